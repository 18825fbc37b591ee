#!/usr/bin/env bash
# The README's test command: install the package with its test extra, install Chromium for the
# report test when this machine allows it (root + apt), then run the default (not slow) suite.
set -uo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -e ".[test]" || { echo "pip install failed" >&2; exit 1; }

if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the report test (skipped by the test if this fails)"
  (timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium chromium-driver) \
    >/tmp/pix2pixai-chromium-install.log 2>&1 || echo "chromium install failed; see /tmp/pix2pixai-chromium-install.log"
fi

python3 -m pytest -m "not slow" -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "ERROR: pytest collected no tests (exit 5); the suite must never be empty." >&2
  exit 1
fi
exit "$status"
