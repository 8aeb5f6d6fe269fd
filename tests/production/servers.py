"""The real servers the suite runs against: which PostgreSQL and Redis, whether they answer,
a private redis-server for fault tests, and Celery worker processes pointed at the test
database.

The suite uses PostgreSQL when DATABASE_URL names it or when the local server answers
(127.0.0.1:5432, user postgres, database test: pytest-django creates its own database next to
it), and the file-backed SQLite otherwise. The Redis tests use TEST_REDIS_URL (by default
database 15 of the local Redis) under a key prefix of their own, so that test runs sharing
one Redis never see each other's queues.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

from django.conf import settings

LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
# Every key this test run writes to the shared Redis starts with this.
REDIS_KEY_PREFIX = f"lesions-test-{os.getpid()}-{uuid.uuid4().hex[:8]}:"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
BASE_DIR = Path(settings.BASE_DIR)


def postgres_reachable(url: str = LOCAL_POSTGRES_URL) -> bool:
    try:
        import psycopg2

        parts = urlsplit(url)
        psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "",
                         password=parts.password or "", dbname=parts.path.lstrip("/"),
                         connect_timeout=2).close()
    except Exception:  # noqa: BLE001  any failure means: not reachable
        return False
    return True


def redis_reachable(url: str = TEST_REDIS_URL) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001  any failure means: not reachable
        return False


def delete_redis_keys(url: str, prefix: str) -> None:
    """Delete this run's keys only; the shared Redis is never flushed."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL for a worker process that must use this (test) database."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.1,
             what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence: it can be
    stopped and started again (empty) while a test runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: redis_reachable(self.url), timeout=10, interval=0.05, what="redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


class WorkerProcess:
    """`celery worker` in a process of its own session (so that a SIGKILL reaches the pool's
    children too), with the given environment on top of this one; logs to a file."""

    def __init__(self, log: Path, env: dict[str, str], *, queues: str = "ml,light", pool: str = "solo",
                 extra: tuple[str, ...] = ()) -> None:
        self.log = log
        self.env = env
        self.args = [sys.executable, "-m", "celery", "-A", "lesions_project", "worker", "-l", "info",
                     "-Q", queues, "--pool", pool, "--concurrency", "1", "--prefetch-multiplier", "1",
                     "--without-mingle", "--without-gossip", "--without-heartbeat",
                     "-n", f"test-{uuid.uuid4().hex[:8]}@%h", *extra]
        self.process: subprocess.Popen | None = None

    def start(self, *, ready_timeout: float = 90) -> WorkerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "lesions_project.settings", **self.env}
        self.process = subprocess.Popen(self.args, cwd=BASE_DIR, env=env, stdout=handle,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        wait_for(lambda: " ready." in self.output() or self.process.poll() is not None,
                 timeout=ready_timeout, what="the Celery worker to be ready")
        assert self.process.poll() is None, f"the worker exited:\n{self.output()[-4000:]}"
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no clean-up, no acknowledgement."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self, *, timeout: float = 30) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it takes longer than ``timeout``."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        self.kill()


@contextlib.contextmanager
def running(worker: WorkerProcess) -> Iterator[WorkerProcess]:
    try:
        yield worker.start()
    finally:
        worker.kill()


@contextlib.contextmanager
def celery_broker(app, url: str, transport_options: dict) -> Iterator[None]:
    """Point this process's Celery app (what the services publish with) at another broker
    for the duration, then back."""
    keys = ("broker_url", "broker_transport_options", "result_backend")
    saved = {key: app.conf[key] for key in keys}

    def reset_connections() -> None:
        # The app's pools live in kombu's registries, keyed by broker: close them and empty
        # the registries, so that each broker gets fresh pools (never a closed one).
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    reset_connections()
    app.conf.update(broker_url=url, broker_transport_options=transport_options, result_backend=None)
    try:
        yield
    finally:
        reset_connections()
        app.conf.update(saved)


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a prefork worker's pool)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (name) state ppid ...": the name may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def worker_environment(*, redis_url: str, key_prefix: str, weights_dir: Path, var_dir: Path,
                       **extra: str) -> dict[str, str]:
    """What a worker process needs to work on this test's data: the test database (its rows
    are committed: use transactional_db), media folder and weights, and the broker."""
    from django.db import connection

    return {
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ML_WEIGHTS_DIR": str(weights_dir),
        "VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": key_prefix,
        "LOG_LEVEL": "INFO",
        # one thread each for torch in the worker and this process on small machines
        "OMP_NUM_THREADS": "1",
        **extra,
    }
