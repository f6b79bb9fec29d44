#!/usr/bin/env bash
# Debian's chromium for the browser tests (make test): installed when missing if we are
# root, else a clear message. Playwright drives it; its own browser download is not used.
set -euo pipefail
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser-deps: $chromium not found: install it (Debian/Ubuntu: sudo apt-get install chromium)" >&2
  exit 1
fi
echo "browser-deps: installing chromium from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
