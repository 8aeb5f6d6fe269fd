"""Liveness and readiness check for load balancers and container orchestrators.

/healthz answers 200 {"status": "ok", "database": "ok", "broker": "ok"} when the database
answers a query and the Celery broker takes work (Redis answers PING; the filesystem
broker's folder takes a file), else 503 with "error" against what failed. Each check gives
up after about a second, so a probe never hangs on a server that is gone.
"""
import logging
import tempfile
from pathlib import Path

from celery import current_app as app
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Seconds to connect to Redis and to wait for its answer.
BROKER_TIMEOUT = 1.0

OK, ERROR = "ok", "error"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_status(), "broker": broker_status()}
    healthy = all(state == OK for state in checks.values())
    return JsonResponse({"status": OK if healthy else ERROR, **checks}, status=200 if healthy else 503)


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: database unreachable")
        return ERROR
    return OK


def broker_status() -> str:
    """The broker the Celery app publishes to (settings: REDIS_URL, else BROKER_DIR)."""
    url = str(app.conf.broker_url or "")
    try:
        if is_redis_url(url):
            client = redis_client(url)
            try:
                client.ping()
            finally:
                client.close()
        elif url.startswith("filesystem://"):
            folder = Path((app.conf.broker_transport_options or {})["data_folder_out"])
            # kombu reads only `*.<queue>.msg` files, so this probe is never taken for a task.
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-"):
                pass
        else:
            with app.connection_for_write() as broker:
                broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
    except Exception:
        logger.exception("Health check: broker unreachable")
        return ERROR
    return OK


def is_redis_url(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def redis_client(url: str, timeout: float = BROKER_TIMEOUT):
    """A Redis client that fails within `timeout` seconds instead of retrying."""
    import redis  # noqa: PLC0415  only where the broker is Redis, not for make run's filesystem broker
    from redis.backoff import NoBackoff  # noqa: PLC0415  (as above)
    from redis.retry import Retry  # noqa: PLC0415  (as above)

    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
