#!/usr/bin/env bash
# What the tests need from the machine beyond .venv: Debian's chromium (browser tests) and PostgreSQL's
# binaries (unless TOWNSHIP_TEST_POSTGRES_URL names a server). Installs them as root with apt-get; otherwise
# prints the one command to run and fails, before any test starts. Used by `make test` (and so by .ci/run).
set -euo pipefail
CHROMIUM="${TOWNSHIP_TEST_CHROMIUM:-/usr/bin/chromium}"  # the path tests/system/test_ui_browser.py drives
need=()
[ -x "$CHROMIUM" ] || need+=(chromium)
if [ -z "${TOWNSHIP_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  echo "make test needs ${need[*]}: run  sudo apt-get install -y --no-install-recommends ${need[*]}  then make test again" >&2
  exit 1
fi
