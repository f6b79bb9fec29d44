{{/* Names and labels shared by every template. */}}

{{- define "order-saga.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-wide prefix of every Kubernetes object (Dapr resources keep their fixed names). */}}
{{- define "order-saga.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "order-saga.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "order-saga.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: order-saga
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "order"). */}}
{{- define "order-saga.selectorLabels" -}}
app.kubernetes.io/name: {{ include "order-saga.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image of one app; call with (dict "root" $ "app" $app). */}}
{{- define "order-saga.appImage" -}}
{{- $img := .root.Values.image -}}
{{- $tag := .app.imageTag | default $img.tag | default .root.Chart.AppVersion -}}
{{- printf "%s%s/%s:%s" $img.registry $img.repositoryPrefix .app.folder $tag -}}
{{- end -}}

{{/* A container security context for a non-root process with a read-only root filesystem. */}}
{{- define "order-saga.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Whether service `id` uses an external Postgres; call with (dict "root" $ "id" "order"). */}}
{{- define "order-saga.postgresExternal" -}}
{{- $ext := index (.root.Values.postgres.external | default dict) .id | default dict -}}
{{- if $ext.enabled -}}true{{- end -}}
{{- end -}}

{{/* The Secret (name) holding service `id`'s connection string. */}}
{{- define "order-saga.dbSecretName" -}}
{{- $ext := index (.root.Values.postgres.external | default dict) .id | default dict -}}
{{- if and $ext.enabled $ext.existingSecret -}}
{{- $ext.existingSecret -}}
{{- else -}}
{{- printf "%s-%s-db" (include "order-saga.fullname" .root) .id -}}
{{- end -}}
{{- end -}}

{{- define "order-saga.dbSecretKey" -}}
{{- $ext := index (.root.Values.postgres.external | default dict) .id | default dict -}}
{{- if and $ext.enabled $ext.existingSecret -}}
{{- $ext.existingSecretKey | default "connectionString" -}}
{{- else -}}
connectionString
{{- end -}}
{{- end -}}

{{- define "order-saga.brokerSecretName" -}}
{{- if and .Values.broker.external.enabled .Values.broker.external.existingSecret -}}
{{- .Values.broker.external.existingSecret -}}
{{- else -}}
{{- printf "%s-redis" (include "order-saga.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "order-saga.brokerSecretKey" -}}
{{- if and .Values.broker.external.enabled .Values.broker.external.existingSecret -}}
{{- .Values.broker.external.existingSecretKey -}}
{{- else -}}
redis-password
{{- end -}}
{{- end -}}

{{- define "order-saga.brokerHost" -}}
{{- if .Values.broker.external.enabled -}}
{{- required "broker.external.host is required when broker.external.enabled is true" .Values.broker.external.host -}}
{{- else -}}
{{- printf "%s:6379" (include "order-saga.serviceHost" (dict "root" . "name" (printf "%s-redis" (include "order-saga.fullname" .)))) -}}
{{- end -}}
{{- end -}}

{{/* A password kept across upgrades: the existing Secret's, else the given one, else a random one.
     Call with (dict "root" $ "secret" "name" "key" "password" "given" "<value>"). */}}
{{- define "order-saga.stablePassword" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else if .given -}}
{{- .given -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}

{{- define "order-saga.zipkinEndpoint" -}}
{{- if .Values.tracing.zipkin.endpoint -}}
{{- .Values.tracing.zipkin.endpoint -}}
{{- else -}}
{{- printf "http://%s:9411/api/v2/spans" (include "order-saga.serviceHost" (dict "root" . "name" (printf "%s-zipkin" (include "order-saga.fullname" .)))) -}}
{{- end -}}
{{- end -}}

{{/* The DNS name of one of the release's Services: {name}.{namespace}.svc.{clusterDomain}.
     Call with (dict "root" $ "name" "order-saga-redis"). */}}
{{- define "order-saga.serviceHost" -}}
{{- printf "%s.%s.svc.%s" .name .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* The saga's topics (docs/messaging.md): who publishes, who subscribes, and which apps
     also read the topic's dead letters ({topic}-dead). Not values: the apps hard-code
     these names and the suffix, so a value could only make the chart disagree with them. */}}
{{- define "order-saga.topics" -}}
stock-commands: {publishers: [order], subscribers: [stock], deadLetterReaders: []}
delivery-commands: {publishers: [order], subscribers: [delivery], deadLetterReaders: []}
billing-commands: {publishers: [order], subscribers: [billing], deadLetterReaders: []}
order-replies: {publishers: [stock, delivery, billing], subscribers: [order], deadLetterReaders: [order]}
{{- end -}}

{{- define "order-saga.deadLetterTopic" -}}
{{- printf "%s-dead" . -}}
{{- end -}}

{{/* The Secrets with the tokens between each app and its sidecar (key `token`, the key
     Dapr's sidecar injector reads): the app's token authenticates the sidecar to the app
     (dapr.io/app-token-secret), the API token the app to its sidecar (dapr.io/api-token-secret). */}}
{{- define "order-saga.appTokenSecret" -}}
{{- printf "%s-app-token" (include "order-saga.fullname" .) -}}
{{- end -}}

{{- define "order-saga.daprApiTokenSecret" -}}
{{- printf "%s-dapr-api-token" (include "order-saga.fullname" .) -}}
{{- end -}}

{{/* A Kubernetes memory quantity ("256Mi", "1G", "1.5Gi", 268435456) in bytes, as an
     integer; `what` names the value in the error. Call with (dict "q" "256Mi" "what" "..."). */}}
{{- define "order-saga.bytes" -}}
{{- $q := toString .q -}}
{{- $re := "^([0-9]+(?:\\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$" -}}
{{- if not (regexMatch $re $q) -}}
{{- fail (printf "%s: %q is not a memory quantity this chart can read (e.g. 256Mi, 1Gi, 500M)" .what $q) -}}
{{- end -}}
{{- $units := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 -}}
{{- $n := float64 (regexReplaceAll $re $q "${1}") -}}
{{- printf "%.0f" (floor (mulf $n (index $units (regexReplaceAll $re $q "${2}")))) -}}
{{- end -}}
