#!/usr/bin/env bash
# Builds daprd, placement and scheduler 1.18.2 from Dapr's published Go modules
# into $1 (default: .dapr), laid out as `dapr init --slim` lays out ~/.dapr:
# bin/{daprd,placement,scheduler}, config.yaml, components/.
# No Dapr source is committed or edited: the module is copied out of the module
# cache into .build/ (ignored) and daprd's component list is swapped by -overlay.
set -euo pipefail
cd "$(dirname "$0")"
VERSION=1.18.2
OUT=$(realpath -m "${1:-.dapr}")

if ! command -v go >/dev/null; then
  echo "dapr-runtime: Go >= 1.26 is needed to build daprd $VERSION (or install daprd 1.18 with 'dapr init --slim' and set DAPR_RUNTIME_PATH)" >&2
  exit 1
fi
GO_MINOR=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "${GO_MINOR:-0}" -lt 26 ]; then
  echo "dapr-runtime: Go >= 1.26 is needed (found $(go env GOVERSION))" >&2
  exit 1
fi

# go.sum (committed) pins every module; readonly: a build never changes it.
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
SRC="$(go env GOMODCACHE)/github.com/dapr/dapr@v$VERSION"
[ -d "$SRC" ] || (cd "$(mktemp -d)" && go mod download "github.com/dapr/dapr@v$VERSION")
if [ ! -f .build/dapr/go.mod ]; then
  rm -rf .build/dapr && mkdir -p .build
  cp -r "$SRC" .build/dapr.tmp && chmod -R u+w .build/dapr.tmp && mv .build/dapr.tmp .build/dapr
fi
printf '{"Replace": {"%s": "%s"}}\n' \
  "$PWD/.build/dapr/cmd/daprd/components/zz_notag.go" "$PWD/components.go.txt" > .build/overlay.json

LDFLAGS="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$VERSION -X github.com/dapr/kit/logger.DaprVersion=$VERSION"
mkdir -p "$OUT/bin" "$OUT/components"
for cmd in daprd placement scheduler; do
  echo "dapr-runtime: building $cmd $VERSION"
  go build -trimpath -overlay .build/overlay.json -ldflags "$LDFLAGS" -o "$OUT/bin/$cmd.tmp" "github.com/dapr/dapr/cmd/$cmd"
  mv "$OUT/bin/$cmd.tmp" "$OUT/bin/$cmd"
done
# What `dapr init --slim` writes: a default Configuration and an empty components folder.
cat > "$OUT/config.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprConfig
spec: {}
YAML
"$OUT/bin/daprd" --version
