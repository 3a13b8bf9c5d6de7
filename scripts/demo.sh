#!/usr/bin/env bash
# One command from a fresh clone: install, generate a demo chain, run the pipeline, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# torch threads sleep instead of spinning when the machine is busy (docs/benchmarks.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# The secret key, the SQLite database (password hashes, sessions) and the logs under var/ are
# readable by their owner only; files an earlier version left readable to all are tightened.
umask 077
mkdir -p var
if [ -z "${SECRET_KEY:-}" ]; then
  [ -f var/secret_key ] || python -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key
  chmod 600 var/secret_key
  SECRET_KEY=$(cat var/secret_key); export SECRET_KEY
fi
for private in var/deepflame.sqlite3 var/worker.log; do
  [ ! -f "$private" ] || chmod 600 "$private"
done
HOST=${DEMO_HOST:-127.0.0.1}
PORT=${DEMO_PORT:-8000}
DEMO_CUSTOMERS=${DEMO_CUSTOMERS:-2000}
DEMO_MONTHS=${DEMO_MONTHS:-6}

python manage.py migrate --noinput
python manage.py collectstatic --noinput >/dev/null
python manage.py demo_pipeline --customers "$DEMO_CUSTOMERS" --months "$DEMO_MONTHS"
login=$(python manage.py create_admin --username admin --reset-password)

# -B: the worker also runs beat, the periodic schedule an Admin edits on the runs page.
celery -A deepflame_web worker -B -Q default,heavy --concurrency 1 --prefetch-multiplier 1 \
  --without-mingle --without-gossip --loglevel INFO > var/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
echo
echo "DeepFlame is serving on http://$HOST:$PORT/  (worker log: var/worker.log; Ctrl-C stops both)"
echo "$login"
echo
gunicorn deepflame_web.wsgi:application --bind "$HOST:$PORT" --workers 2 --access-logfile - 
