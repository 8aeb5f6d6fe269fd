"""Gunicorn's settings, from the environment: `gunicorn -c lesions_project/gunicorn.conf.py
lesions_project.wsgi`. The one place for them (the local stack and containers alike).

    GUNICORN_BIND       address to listen on (default 127.0.0.1:8000; 0.0.0.0:8000 in a container)
    GUNICORN_WORKERS    processes (default 2 x CPUs + 1, at most 8)
    GUNICORN_THREADS    threads per process (default 4)
    GUNICORN_TIMEOUT    seconds a request may run (default 300: a CT zip is checked in the request)
    GUNICORN_FORWARDED_ALLOW_IPS  proxies trusted for X-Forwarded-* (default 127.0.0.1,::1;
                        "*" in a container network that only nginx can reach)
    GUNICORN_LOG_LEVEL  default info
    GUNICORN_CONTROL_SOCKET  path of gunicorn's control socket (default: none)
"""
import multiprocessing
import os


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer.") from None


bind = os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"
workers = _env_int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
# Threads: a request waiting on the database or the disk leaves the process free for others.
# The web processes do no model inference (the Celery ML worker does), so they stay small.
threads = _env_int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"

# nginx receives every upload completely before passing it on, so gunicorn reads bodies at
# loopback speed; the timeout is for the work a request does (a CT zip's checks and
# de-identification), and matches nginx's proxy_read_timeout.
timeout = _env_int("GUNICORN_TIMEOUT", 300)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5

# Recycle processes now and then so a slow leak cannot grow without bound.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10

# Each worker imports the application itself: a reload replaces code cleanly and no database
# connection is ever shared across a fork.
preload_app = False

# The heartbeat file lives in memory where there is memory-backed storage (Docker's /tmp
# may be a slow overlay disk, and a blocked heartbeat write kills the worker).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"

# Gunicorn's control socket defaults to one path in $HOME shared by every gunicorn of the
# user (the stack's and the tests' would collide); nothing here uses it unless asked to.
if os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip():
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"].strip()
else:
    control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "").strip() or "info"
# The client's address is the X-Forwarded-For nginx adds; the time taken in microseconds.
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(D)sus "%(a)s"'
proc_name = "lesions-web"


def child_exit(server, worker):
    """A gunicorn worker that exits leaves its Prometheus files behind; mark them dead so
    /metrics stops counting its live gauges."""
    from lesions_project.metrics import mark_process_dead  # noqa: PLC0415  gunicorn reads this file before Django is set up

    mark_process_dead(worker.pid)
