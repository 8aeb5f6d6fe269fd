#!/usr/bin/env bash
# Runs the web server and a Celery worker together; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}

"$PY" -m celery -A lesions_project worker --loglevel=info --pool=solo &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM
"$PY" manage.py runserver "127.0.0.1:$PORT"
