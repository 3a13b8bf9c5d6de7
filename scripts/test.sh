#!/usr/bin/env bash
# Installs what the tests need (venv, Debian chromium for the browser layer) and runs them all.
# With DATABASE_URL / CELERY_BROKER_URL set the suite runs against PostgreSQL and Redis;
# without them, on the embedded default (SQLite, filesystem broker).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian chromium for the browser tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "MISSING: /usr/bin/chromium for the browser tests: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
python -m pytest "$@"
