#!/usr/bin/env bash
# The production topology on one machine, without containers: nginx in front of gunicorn,
# PostgreSQL, Redis, and two Celery workers (ML and light). `make stack` / `make stack-stop`.
#
#   scripts/stack.sh start          start what is not running yet, wait for /healthz, print the URL
#   scripts/stack.sh stop           stop what `start` started (by its pid files), and only that
#   scripts/stack.sh status         what is running
#   scripts/stack.sh render-nginx DIR
#                                   render nginx/ into DIR (nginx.conf + lesions.conf) from
#                                   LISTEN_PORT, UPSTREAM, STATIC_ROOT, MEDIA_ROOT, MAX_BODY_SIZE
#                                   (pid file and logs in DIR unless NGINX_PID, NGINX_LOG_DIR)
#
# Environment (defaults in brackets):
#   STACK_DIR [var/stack]   pid files, logs, the generated SECRET_KEY, static files, media
#   STACK_PORT [8080]       nginx, on 127.0.0.1
#   STACK_WEB_PORT [8001]   gunicorn, on 127.0.0.1 (nginx's upstream)
#   DATABASE_URL [postgres://postgres@127.0.0.1:5432/lesions]  created if missing
#   REDIS_URL [redis://127.0.0.1:6379/0]  set it empty for Celery's filesystem broker in STACK_DIR
#   REDIS_KEY_PREFIX        (settings.py) to share one Redis with other stacks or test runs
#   MAX_BODY_SIZE [1g]      nginx's client_max_body_size
#   ML_QUEUE [ml], LIGHT_QUEUE [light], GUNICORN_WORKERS, GUNICORN_THREADS, STACK_WAIT [60]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PY:-.venv/bin/python}
case "$PY" in /*) ;; *) PY="$ROOT/$PY" ;; esac

STACK_DIR=$(realpath -m "${STACK_DIR:-var/stack}")
STACK_PORT=${STACK_PORT:-8080}
STACK_WEB_PORT=${STACK_WEB_PORT:-8001}
STACK_WAIT=${STACK_WAIT:-60}
ML_QUEUE=${ML_QUEUE:-ml}
LIGHT_QUEUE=${LIGHT_QUEUE:-light}
URL="http://127.0.0.1:$STACK_PORT"
SERVICES=(nginx gunicorn celery-light celery-ml)

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

# --- nginx configuration --------------------------------------------------------------

# render_nginx DIR: nginx.conf (local main file) and lesions.conf (the site, the same
# template the nginx image renders) in DIR, and the temporary folders nginx writes to.
render_nginx() {
  local dir=$1 name
  for name in LISTEN_PORT UPSTREAM STATIC_ROOT MEDIA_ROOT MAX_BODY_SIZE; do
    [[ -n "${!name:-}" ]] || die "render-nginx: $name is not set"
  done
  command -v envsubst >/dev/null || die "envsubst is missing: apt-get install gettext-base"
  command -v nginx >/dev/null || die "nginx is not installed: apt-get install nginx-light"
  mkdir -p "$dir"/temp/{body,proxy,fastcgi,uwsgi,scgi}
  export LISTEN_PORT UPSTREAM STATIC_ROOT MEDIA_ROOT MAX_BODY_SIZE
  envsubst '${LISTEN_PORT} ${UPSTREAM} ${STATIC_ROOT} ${MEDIA_ROOT} ${MAX_BODY_SIZE}' \
    < nginx/templates/lesions.conf.template > "$dir/lesions.conf"
  NGINX_DIR=$(realpath "$dir")
  NGINX_PID=${NGINX_PID:-$NGINX_DIR/nginx.pid}
  NGINX_LOG_DIR=${NGINX_LOG_DIR:-$NGINX_DIR}
  NGINX_MIME_TYPES=$(nginx_mime_types)
  # A master started by root hands requests to workers running as `user`; they read the
  # media files (mode 0640, written by gunicorn as this same user).
  if [[ $(id -u) == 0 ]]; then
    NGINX_USER_LINE="user $(id -un) $(id -gn);"
  else
    NGINX_USER_LINE="# not root: the workers run as $(id -un)"
  fi
  export NGINX_DIR NGINX_PID NGINX_LOG_DIR NGINX_MIME_TYPES NGINX_USER_LINE
  envsubst '${NGINX_DIR} ${NGINX_PID} ${NGINX_LOG_DIR} ${NGINX_MIME_TYPES} ${NGINX_USER_LINE}' \
    < nginx/local/nginx.conf.template > "$dir/nginx.conf"
}

nginx_mime_types() {
  local conf
  conf=$(nginx -V 2>&1 | sed -n 's/.*--conf-path=\([^ ]*\).*/\1/p')
  conf=${conf:-/etc/nginx/nginx.conf}
  [[ -f "$(dirname "$conf")/mime.types" ]] || die "no mime.types beside $conf"
  echo "$(dirname "$conf")/mime.types"
}

# --- processes ------------------------------------------------------------------------

pidfile() { echo "$STACK_DIR/$1.pid"; }

# The pid in NAME's pid file if that process is alive and is still what we started.
running_pid() {
  local file pid pattern
  file=$(pidfile "$1")
  [[ -s "$file" ]] || return 1
  pid=$(tr -dc '0-9' < "$file")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  case "$1" in nginx) pattern=nginx ;; gunicorn) pattern=gunicorn ;; *) pattern=celery ;; esac
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$pattern" || return 1
  echo "$pid"
}

# launch NAME COMMAND...: in its own session (so it outlives this shell and can be stopped
# as a group), output to the log, then wait for the program to write its pid file.
launch() {
  local name=$1; shift
  local log="$STACK_DIR/log/$name.log" file
  file=$(pidfile "$name")
  rm -f "$file"
  printf '\n=== %s started %s\n' "$name" "$(date -Is)" >> "$log"
  setsid "$@" >> "$log" 2>&1 < /dev/null 9>&- &
  local launched=$! gone=0
  for _ in $(seq 1 300); do
    running_pid "$name" > /dev/null && { say "$name started (pid $(running_pid "$name"), log $log)"; return; }
    # nginx's launcher exits once the daemon runs; anything else that exits has failed.
    if ! kill -0 "$launched" 2>/dev/null; then
      gone=$((gone + 1))
      [[ $gone -lt 20 ]] || break
    fi
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  die "$name did not start; see $log"
}

port_free() {
  "$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# stop_services NAME...: a graceful stop to each (nginx: QUIT, gunicorn: TERM, both finish
# the requests under way; a Celery worker: TERM, it finishes its current task), then wait
# for all; KILL what is left after 45 s.
stop_services() {
  local name pid
  local -A stopping=()
  for name in "$@"; do
    if pid=$(running_pid "$name"); then
      if [[ $name == nginx ]]; then kill -QUIT "$pid"; else kill -TERM "$pid"; fi
      stopping[$name]=$pid
    else
      say "$name not running"
      rm -f "$(pidfile "$name")"
    fi
  done
  for name in "$@"; do
    pid=${stopping[$name]:-}
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 450); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) still running after 45 s: killing its process group"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    fi
    rm -f "$(pidfile "$name")"
    say "$name stopped"
  done
}

# --- the environment every service shares --------------------------------------------

stack_environment() {
  mkdir -p "$STACK_DIR/log"
  local key="$STACK_DIR/secret_key"
  if [[ ! -s "$key" ]]; then
    (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$key")
  fi
  export DJANGO_SETTINGS_MODULE=lesions_project.settings
  export DEBUG=false
  SECRET_KEY=$(cat "$key")
  export SECRET_KEY
  export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
  export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lesions}
  export REDIS_URL=${REDIS_URL-redis://127.0.0.1:6379/0}
  # Everything the stack writes stays in STACK_DIR: STATIC_ROOT is $VAR_DIR/static, media
  # and (without Redis) the broker live there too.
  export VAR_DIR="$STACK_DIR"
  export MEDIA_ROOT="$STACK_DIR/media"
  export PROTECTED_MEDIA_ACCEL_PREFIX=/protected-media
  # This stack is plain HTTP on the loopback, so the HTTPS-only protections of a DEBUG=false
  # deployment are switched off here, explicitly; a real deployment terminates TLS in front
  # and leaves them on.
  export SECURE_SSL_REDIRECT=false
  export SESSION_COOKIE_SECURE=false
  export CSRF_COOKIE_SECURE=false
  export SECURE_HSTS_SECONDS=0
  export CSRF_TRUSTED_ORIGINS=${CSRF_TRUSTED_ORIGINS:-http://127.0.0.1:$STACK_PORT,http://localhost:$STACK_PORT}
  export GUNICORN_BIND="127.0.0.1:$STACK_WEB_PORT"
  export MAX_BODY_SIZE=${MAX_BODY_SIZE:-1g}
}

# The PostgreSQL database named in DATABASE_URL, created when missing; Redis answering.
check_servers() {
  "$PY" - <<'EOF'
import os
import sys

from lesions_project.env import parse_database_url

database = parse_database_url(os.environ["DATABASE_URL"], base_dir=os.getcwd())
if database["ENGINE"].endswith("postgresql"):
    import psycopg2
    from psycopg2 import sql

    try:
        connection = psycopg2.connect(
            dbname="postgres", user=database["USER"] or None, password=database["PASSWORD"] or None,
            host=database["HOST"] or None, port=database["PORT"] or None, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        sys.exit(f"stack: PostgreSQL is not reachable for {os.environ['DATABASE_URL']}: {exc}")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database["NAME"])))
            print(f"stack: created database {database['NAME']}")
    connection.close()
if os.environ.get("REDIS_URL"):
    import redis

    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        sys.exit(f"stack: Redis is not reachable at {os.environ['REDIS_URL']}: {exc}")
EOF
}

wait_healthy() {
  say "waiting for $URL/healthz"
  if ! "$PY" - "$URL/healthz" "$STACK_WAIT" <<'EOF'
import sys
import time
import urllib.request

url, wait = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + wait
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.25)
EOF
  then
    tail -n 20 "$STACK_DIR"/log/*.log >&2 || true
    die "no answer from $URL/healthz after ${STACK_WAIT} s (logs above; make stack-stop stops it)"
  fi
}

# --- commands ---------------------------------------------------------------------------

start() {
  command -v nginx >/dev/null || die "nginx is not installed: apt-get install nginx-light"
  command -v envsubst >/dev/null || die "envsubst is missing: apt-get install gettext-base"
  stack_environment
  local missing=() name
  for name in "${SERVICES[@]}"; do
    running_pid "$name" > /dev/null || missing+=("$name")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    check_servers
    "$PY" manage.py migrate --noinput
    "$PY" manage.py collectstatic --noinput -v 0
  fi
  if ! running_pid gunicorn > /dev/null; then
    port_free "$STACK_WEB_PORT" || die "port $STACK_WEB_PORT is taken (set STACK_WEB_PORT)"
    launch gunicorn "$PY" -m gunicorn -c lesions_project/gunicorn.conf.py \
      --pid "$(pidfile gunicorn)" lesions_project.wsgi
  fi
  if ! running_pid celery-ml > /dev/null; then
    launch celery-ml "$PY" -m celery -A lesions_project worker -Q "$ML_QUEUE" --concurrency 1 \
      -n "ml-$STACK_PORT@%h" --loglevel=info --pidfile "$(pidfile celery-ml)"
  fi
  if ! running_pid celery-light > /dev/null; then
    launch celery-light "$PY" -m celery -A lesions_project worker -Q "$LIGHT_QUEUE" -B \
      -n "light-$STACK_PORT@%h" --loglevel=info --pidfile "$(pidfile celery-light)" \
      --schedule "$STACK_DIR/celerybeat-schedule"
  fi
  if ! running_pid nginx > /dev/null; then
    port_free "$STACK_PORT" || die "port $STACK_PORT is taken (set STACK_PORT)"
    LISTEN_PORT=$STACK_PORT UPSTREAM="127.0.0.1:$STACK_WEB_PORT" STATIC_ROOT="$STACK_DIR/static" \
      MEDIA_ROOT="$MEDIA_ROOT" NGINX_PID=$(pidfile nginx) NGINX_LOG_DIR="$STACK_DIR/log" \
      render_nginx "$STACK_DIR/nginx"
    nginx -q -t -e "$STACK_DIR/log/nginx-error.log" -p "$STACK_DIR/nginx" -c "$STACK_DIR/nginx/nginx.conf"
    launch nginx nginx -e "$STACK_DIR/log/nginx-error.log" -p "$STACK_DIR/nginx" \
      -c "$STACK_DIR/nginx/nginx.conf"
  fi
  [[ ${#missing[@]} -gt 0 ]] || say "already running"
  wait_healthy
  say "up: $URL  (make stack-stop stops it; logs in $STACK_DIR/log)"
}

stop() {
  stop_services nginx  # first: no new requests
  stop_services gunicorn celery-light celery-ml
}

status() {
  local name pid
  for name in "${SERVICES[@]}"; do
    if pid=$(running_pid "$name"); then say "$name running (pid $pid)"; else say "$name not running"; fi
  done
}

if [[ "${1:-}" == render-nginx ]]; then
  [[ -n "${2:-}" ]] || die "usage: $0 render-nginx DIR"
  render_nginx "$2"
  exit 0
fi
mkdir -p "$STACK_DIR"
# One start or stop at a time; the services must not inherit the lock (9>&- in launch).
exec 9> "$STACK_DIR/.lock"
flock 9
case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status|render-nginx DIR" ;;
esac
