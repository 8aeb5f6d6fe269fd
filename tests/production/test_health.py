"""/healthz: the database and the broker, 200 when both answer, 503 naming what failed."""
import contextlib
import time

import pytest
from django.db import OperationalError

from lesions_project import health
from lesions_project.broker import filesystem_options
from lesions_project.celery import app as celery_app
from tests.conditions import need
from tests.production import servers

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def broker(url: str, transport_options: dict | None = None):
    """Point the Celery app's broker settings elsewhere for a check, then back. Only the
    settings: /healthz reads them and opens its own connection, so kombu's shared
    connection pools are left alone for the tests that publish."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "broker_transport_options")}
    celery_app.conf.update(broker_url=url, broker_transport_options=transport_options or {})
    try:
        yield
    finally:
        celery_app.conf.update(saved)


def test_healthy_with_the_filesystem_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthy_with_redis(client):
    need(servers.redis_reachable(), f"Redis is not reachable at {servers.TEST_REDIS_URL}")
    with broker(servers.TEST_REDIS_URL):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_redis_on_a_closed_port_is_a_broker_error_and_quick(client):
    started = time.monotonic()
    with broker(f"redis://127.0.0.1:{servers.free_port()}/0"):
        response = client.get("/healthz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


def test_a_missing_broker_folder_is_a_broker_error(client, tmp_path):
    with broker("filesystem://", filesystem_options(tmp_path / "gone")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "error"


def test_a_database_that_does_not_answer_is_a_database_error(client, monkeypatch):
    class Unreachable:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "broker": "ok"}


def test_probes_over_plain_http_are_not_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301  # everything else goes to HTTPS
