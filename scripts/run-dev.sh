#!/usr/bin/env bash
# Runs the web server and one Celery worker together; Ctrl-C stops both.
# The worker consumes both queues (`ml`: the models; `light`: the outbox sweep) and embeds
# beat (-B), which runs the sweep every OUTBOX_SWEEP_SECONDS. Production runs separate
# workers: see lesions_project/celery.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}

"$PY" -m celery -A lesions_project worker --loglevel=info --pool=solo -Q ml,light -B &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM
"$PY" manage.py runserver "127.0.0.1:$PORT"
