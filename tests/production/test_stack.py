"""`make stack` and `make stack-stop` end to end, on free ports and a folder of their own.

The whole topology starts in about ten seconds and a photo is analysed in a few more, so
the test runs the real commands rather than pieces of them: migrate, collectstatic,
gunicorn, the ML and light Celery workers, nginx, a second `make stack` that must start
nothing, a patient's upload analysed by the shipped models, and the stop.

It uses the local PostgreSQL (a database of its own, which the stack creates and the test
drops) and Redis (TEST_REDIS_URL under a key prefix of its own) when they answer, and
SQLite with Celery's filesystem broker otherwise, so it also runs where neither server is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests import images
from tests.production import servers, webstack

SERVICES = ("nginx", "gunicorn", "celery-light", "celery-ml")
# Anything the caller's shell says about a deployment must not leak into this one.
STACK_VARIABLES = {
    "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
    "VAR_DIR", "MEDIA_ROOT", "BROKER_DIR", "ML_WEIGHTS_DIR", "PROTECTED_MEDIA_ACCEL_PREFIX",
    "CSRF_TRUSTED_ORIGINS", "MAX_BODY_SIZE", "STACK_DIR", "STACK_PORT", "STACK_WEB_PORT",
}


def make(target: str, env: dict) -> subprocess.CompletedProcess:
    # -o: never reinstall the virtual environment from a test; PY: this very interpreter.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", target, f"PY={sys.executable}"],
        cwd=webstack.ROOT, env=env, capture_output=True, text=True, timeout=180)


def pids(stack_dir: Path) -> dict[str, int]:
    found = {}
    for name in SERVICES:
        file = stack_dir / f"{name}.pid"
        if file.exists() and file.read_text().strip():
            found[name] = int(file.read_text().strip())
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


@pytest.fixture
def stack(tmp_path):
    """The environment of a stack of the test's own; stopped (and its database dropped)
    whatever happens."""
    webstack.need_nginx()
    env = {key: value for key, value in os.environ.items() if key not in STACK_VARIABLES}
    stack_dir = tmp_path / "stack"
    env.update({
        "STACK_DIR": str(stack_dir),
        "STACK_PORT": str(servers.free_port()),
        "STACK_WEB_PORT": str(servers.free_port()),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
    })
    database = None
    if servers.postgres_reachable():
        database = f"lesions_stack_test_{uuid.uuid4().hex[:12]}"
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'stack.sqlite3'}"
    prefix = f"lesions-stack-test-{uuid.uuid4().hex[:12]}:"
    use_redis = servers.redis_reachable()
    if use_redis:
        env.update({"REDIS_URL": servers.TEST_REDIS_URL, "REDIS_KEY_PREFIX": prefix})
    else:
        env["REDIS_URL"] = ""  # the stack's filesystem broker
    try:
        yield env
    finally:
        stopped = make("stack-stop", env)
        for pid in pids(stack_dir).values():  # whatever stack-stop missed
            if alive(pid):
                os.kill(pid, 9)
        if database:
            _drop_database(database)
        if use_redis:
            servers.delete_redis_keys(servers.TEST_REDIS_URL, prefix)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def _drop_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", user="postgres", host="127.0.0.1", port=5432)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def api(port: int, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
        content_type: str | None = None) -> webstack.Response:
    headers = {"Authorization": f"Token {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    return webstack.http_request(port, method, path, headers=headers, body=body, timeout=60)


def test_make_stack_runs_the_production_topology_and_stack_stop_ends_it(stack):
    stack_dir, port = Path(stack["STACK_DIR"]), int(stack["STACK_PORT"])

    started = make("stack", stack)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    assert f"up: http://127.0.0.1:{port}" in started.stdout
    first = pids(stack_dir)
    assert set(first) == set(SERVICES) and all(alive(pid) for pid in first.values()), first
    health = webstack.http_request(port, "GET", "/healthz")
    assert (health.status, json.loads(health.body)["status"]) == (200, "ok")
    assert (stack_dir / "secret_key").stat().st_mode & 0o077 == 0

    again = make("stack", stack)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout and "started" not in again.stdout
    assert pids(stack_dir) == first

    # A patient signs up, uploads a photo through nginx, and the ML worker analyses it.
    signup = api(port, "POST", "/api/v1/auth/signup/", content_type="application/json",
                 body=json.dumps({"username": "stacktest", "password": "a-long-Password-123"}).encode())
    assert signup.status == 201, signup.text
    token = json.loads(signup.body)["token"]
    body, content_type = webstack.multipart({"kind": "skin_photo"},
                                            {"file": ("mole.jpg", images.jpeg_bytes(), "image/jpeg")})
    upload = api(port, "POST", "/api/v1/studies/", token=token, body=body, content_type=content_type)
    assert upload.status == 201, upload.text
    study_id = json.loads(upload.body)["id"]
    deadline = time.monotonic() + 60
    while True:
        study = json.loads(api(port, "GET", f"/api/v1/studies/{study_id}/", token=token).body)
        if study["status"] in {"done", "not_assessable", "failed"} or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    # A photo of noise: the shipped models' input gate may refuse it; a report exists either way.
    assert study["status"] in {"done", "not_assessable"}, study
    report = api(port, "GET", f"/api/v1/studies/{study_id}/report.pdf", token=token)
    assert report.status == 200 and report.body[:5] == b"%PDF-"  # sent by nginx
    assert report.header("X-Accel-Redirect") is None
    assert webstack.http_request(port, "GET", "/static/css/app.css").status == 200  # collectstatic's

    stopped = make("stack-stop", stack)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(alive(pid) for pid in first.values())
    assert pids(stack_dir) == {}
    assert webstack.port_is_free(port) and webstack.port_is_free(int(stack["STACK_WEB_PORT"]))
