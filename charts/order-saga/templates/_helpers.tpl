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
{{- printf "%s-redis.%s.svc.cluster.local:6379" (include "order-saga.fullname" .) .Release.Namespace -}}
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
{{- printf "http://%s-zipkin.%s.svc.cluster.local:9411/api/v2/spans" (include "order-saga.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}
