#!/usr/bin/env bash
# Builds, pinned by go.mod/go.sum here and in dapr-runtime/, into $1 (default: .build/bin):
#   etcd, kube-apiserver, kube-controller-manager, kubectl  (k8s.io/kubernetes v1.34.2, etcd v3.6.4)
#   helm                                                     (helm.sh/helm/v3 v3.19.0, its own go.sum)
#   sentry, injector, operator                               (github.com/dapr/dapr v1.18.2)
# Binaries already there are kept: a second run builds nothing (make decides on staleness).
set -euo pipefail
cd "$(dirname "$0")"
OUT=$(realpath -m "${1:-.build/bin}")
K8S_VERSION=v1.34.2
HELM_VERSION=v3.19.0
DAPR_VERSION=1.18.2
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$OUT" .build

# Stamp the version a plain `go build` leaves as v0.0.0-master (kubectl version, /version).
V=k8s.io/component-base/version
C=k8s.io/client-go/pkg/version
K8S_LDFLAGS="-s -w"
for pkg in $V $C; do
  K8S_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=34 -X $pkg.gitTreeState=clean"
done

build() { # name package [module dir] [ldflags]
  local name=$1 pkg=$2 dir=${3:-.} ldflags=${4:-$K8S_LDFLAGS}
  [ -x "$OUT/$name" ] && return 0
  echo "k8s-control-plane: building $name"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$OUT/$name.tmp" "$pkg")
  mv "$OUT/$name.tmp" "$OUT/$name"
}

build etcd ./cmd/etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
if [ ! -x "$OUT/helm" ]; then
  echo "k8s-control-plane: building helm"
  # helm has no replace directives: `go install pkg@version` builds it with its own go.sum.
  # The flags of helm's Makefile: without the Kubernetes version (client-go v0.34 -> 1.34),
  # `helm template` and `helm lint` assume 1.20 and refuse kubeVersion: >=1.29.
  H=helm.sh/helm/v3
  HELM_LDFLAGS="-s -w -X $H/internal/version.version=$HELM_VERSION -X $H/internal/version.gitTreeState=clean"
  for pkg in $H/pkg/lint/rules $H/pkg/chartutil; do
    HELM_LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=34"
  done
  GOFLAGS= GOBIN="$OUT" go install -trimpath -ldflags "$HELM_LDFLAGS" "$H/cmd/helm@$HELM_VERSION"
fi
# Dapr's commands build in dapr-runtime's module (go.mod/go.sum pin them), from the copy of
# Dapr's module that dapr-runtime/build.sh makes; make it here if that build has not run.
DAPR_SRC="$(go env GOMODCACHE)/github.com/dapr/dapr@v$DAPR_VERSION"
[ -d "$DAPR_SRC" ] || (cd "$(mktemp -d)" && GOFLAGS= go mod download "github.com/dapr/dapr@v$DAPR_VERSION")
if [ ! -f ../dapr-runtime/.build/dapr/go.mod ]; then
  rm -rf ../dapr-runtime/.build/dapr && mkdir -p ../dapr-runtime/.build
  cp -r "$DAPR_SRC" ../dapr-runtime/.build/dapr.tmp && chmod -R u+w ../dapr-runtime/.build/dapr.tmp
  mv ../dapr-runtime/.build/dapr.tmp ../dapr-runtime/.build/dapr
fi
# Dapr's Helm chart and CRDs, what `dapr init -k` installs (tests/k8s/cluster.py).
if [ ! -f .build/dapr-chart/Chart.yaml ]; then
  rm -rf .build/dapr-chart && cp -r "$DAPR_SRC/charts/dapr" .build/dapr-chart.tmp
  chmod -R u+w .build/dapr-chart.tmp && mv .build/dapr-chart.tmp .build/dapr-chart
fi
DAPR_LDFLAGS="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION"
for cmd in sentry injector operator; do
  build "$cmd" "github.com/dapr/dapr/cmd/$cmd" ../dapr-runtime "$DAPR_LDFLAGS"
done
