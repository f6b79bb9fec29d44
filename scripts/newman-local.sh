#!/usr/bin/env bash
# Runs the Postman collection with Newman against a local stack that it starts on free ports
# and stops afterwards (localdapr and the four apps, fresh data). Reporters: CLI and JUnit
# (reports/newman.xml). Exits with Newman's code: non-zero if any assertion fails.
# Extra arguments go to `newman run`, e.g. scripts/newman-local.sh --verbose
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "newman-local: $tool not found (Node.js 18+ is needed)" >&2; exit 2; }
done
[ -x .venv/bin/python ] || { echo "newman-local: run 'make install' first" >&2; exit 2; }
exec .venv/bin/python -m tests.newman.run_newman "$@"
