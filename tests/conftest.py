"""Shared fixtures: the test database and broker, isolated storage, three users, tiny real
model weights.

The database: PostgreSQL when DATABASE_URL names it or when the local server answers
(tests/production/servers.py), with a test database of this run's own; the file-backed
SQLite otherwise. The session's first line says which, and which broker.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from accounts.models import User
from accounts.services import user_create
from lesions_project.broker import filesystem_options
from lesions_project.celery import app as celery_app
from lesions_project.celery import ensure_broker_folders
from lesions_project.env import parse_database_url
from studies import services
from studies.analysis import run
from studies.models import Study
from tests import images
from tests.production import servers

PASSWORD = "a-long-Password-123"


def _choose_database() -> str:
    """Switch the default database to the local PostgreSQL when it answers and the user
    named none; returns where the database comes from, for the session's first line."""
    if os.environ.get("DATABASE_URL"):
        return "DATABASE_URL"
    if not servers.postgres_reachable():
        return "PostgreSQL not reachable at 127.0.0.1:5432"
    from django.db import connections

    database = django_settings.DATABASES["default"]
    database.clear()  # in place: Django's connection handler holds this very dict
    database.update(parse_database_url(servers.LOCAL_POSTGRES_URL, base_dir=django_settings.BASE_DIR))
    connections.configure_settings(django_settings.DATABASES)
    if hasattr(connections._connections, "default"):  # made with the old settings: drop it
        connections["default"].close()
        del connections["default"]
    return "found at 127.0.0.1:5432"


DATABASE_SOURCE = _choose_database()


def pytest_sessionstart(session) -> None:
    database = django_settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        used = f"SQLite, a file-backed test database ({DATABASE_SOURCE})"
    else:
        used = f"PostgreSQL on {database['HOST'] or 'localhost'}:{database['PORT'] or 5432} ({DATABASE_SOURCE})"
    redis = (f"Redis tests on {servers.TEST_REDIS_URL}" if servers.redis_reachable()
             else f"Redis not reachable at {servers.TEST_REDIS_URL}: Redis tests skip")
    faults = ("fault tests on their own redis-server" if Path(servers.REDIS_SERVER).exists()
              else "no redis-server: fault tests skip")
    line = f"Test database: {used}; broker: filesystem queue in a temporary folder; {redis}; {faults}."
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)  # noqa: T201  the run's first line, when pytest has no reporter


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    """A file-backed sqlite test database, so a Celery worker thread (or process) can share
    it safely; on PostgreSQL a test database of this run's own (test runs side by side on
    one server must not drop each other's), with connections closed after each use."""
    database = django_settings.DATABASES["default"]
    test = database.setdefault("TEST", {})
    if database["ENGINE"].endswith("sqlite3"):
        test["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
        database.setdefault("OPTIONS", {})["timeout"] = 30
    else:
        test["NAME"] = f"{test.get('NAME') or 'test_' + database['NAME']}_{os.getpid()}"
        database["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session", autouse=True)
def broker_dir(tmp_path_factory) -> Path:
    """Tasks queued during tests go to a throwaway filesystem broker, never to var/."""
    folder = tmp_path_factory.mktemp("broker")
    celery_app.conf.update(
        broker_url="filesystem://",
        broker_transport_options=filesystem_options(folder),
    )
    ensure_broker_folders()
    return folder


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ML_WEIGHTS_DIR = tmp_path / "no-weights"
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = ""
    # A request made by the test client leaves its language active in the thread.
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def _test_weights_dir(tmp_path_factory) -> Path:
    from tests.ml.model_fixtures import write_test_weights  # loads torch: only when a test needs weights

    folder = tmp_path_factory.mktemp("weights")
    write_test_weights(folder)
    return folder


@pytest.fixture
def ml_weights(settings, _test_weights_dir) -> Path:
    """Tiny untrained weights for the real ml package (written once per session)."""
    settings.ML_WEIGHTS_DIR = _test_weights_dir
    return _test_weights_dir


@dataclass
class Users:
    patient_a: User
    patient_b: User
    radiologist: User
    clinician: User


@pytest.fixture
def users(db) -> Users:
    return Users(
        patient_a=user_create(username="alice", password=PASSWORD, email="alice@example.com"),
        patient_b=user_create(username="bob", password=PASSWORD, email="bob@example.com"),
        radiologist=user_create(username="rita", password=PASSWORD, role=User.Role.RADIOLOGIST),
        clinician=user_create(username="carl", password=PASSWORD, role=User.Role.CLINICIAN),
    )


@pytest.fixture
def client_a(users) -> Client:
    client = Client()
    client.force_login(users.patient_a)
    return client


@pytest.fixture
def client_b(users) -> Client:
    client = Client()
    client.force_login(users.patient_b)
    return client


def photo_upload(data: bytes | None = None, name: str = "mole.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, images.jpeg_bytes() if data is None else data, content_type=content_type)


@pytest.fixture
def queued_study(users, django_capture_on_commit_callbacks) -> Study:
    """Patient A's study as it is right after upload (the task is not run)."""
    with django_capture_on_commit_callbacks(execute=False):
        return services.study_create(
            owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(), language="en"
        )


@pytest.fixture
def analysed_study(queued_study, ml_weights) -> Study:
    """Patient A's study analysed by the real ml package with tiny test weights."""
    run.analyse_study(study_id=queued_study.id)
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.DONE, queued_study.failure_reason
    return queued_study


@pytest.fixture
def radiology_studies(users):
    """A clinician's urgent chest X-ray (AI: bacterial pneumonia) and CT (no AI finding),
    made directly as the pre-read leaves them; see tests/radiology_studies.py."""
    from types import SimpleNamespace

    from tests.radiology_studies import make_ct, make_xray

    return SimpleNamespace(xray=make_xray(users.clinician), ct=make_ct(users.clinician))
