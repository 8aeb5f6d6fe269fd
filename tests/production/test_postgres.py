"""What SQLite cannot show: the migrations on PostgreSQL, real races between connections
(the review claim, the outbox sweep), row locks in _store_outcome, and JSON columns."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from lesions_project.errors import ApplicationError
from radiology import review
from radiology.models import Nodule, Report
from studies.analysis import outbox, state
from studies.models import Study, StudyResult
from tests.conditions import need
from tests.production import servers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql(django_db_setup):
    need(connection.vendor == "postgresql",
         "the suite is not on PostgreSQL: start it on 127.0.0.1:5432 (user postgres, database test) "
         "or set DATABASE_URL=postgres://...")


def in_threads(count: int, work) -> list:
    """Run ``work(index)`` in ``count`` threads released together, each on its own database
    connection; returns what each returned or raised."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = work(index)
        except Exception as error:  # noqa: BLE001 - the caller inspects it
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_the_migrations_apply_and_revert_on_a_fresh_postgresql_database():
    import psycopg2

    settings_dict = connection.settings_dict
    name = f"test_lesions_migrate_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=settings_dict["HOST"], port=settings_dict["PORT"] or 5432,
                             user=settings_dict["USER"], password=settings_dict["PASSWORD"],
                             dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        url = servers.database_url({**settings_dict, "NAME": name})
        script = ("import django; django.setup(); from django.core.management import call_command; "
                  "call_command('migrate', verbosity=0); call_command('migrate', 'diagnosis', '0002', verbosity=0); "
                  "call_command('migrate', verbosity=0); "
                  "call_command('makemigrations', '--check', '--dry-run', verbosity=0)")
        done = subprocess.run([sys.executable, "-c", script], cwd=django_settings.BASE_DIR, capture_output=True,
                              text=True, timeout=120,
                              env={**os.environ, "DATABASE_URL": url,
                                   "DJANGO_SETTINGS_MODULE": "lesions_project.settings"})
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_two_radiologists_claiming_at_once_one_wins(users, radiology_studies):
    from accounts.models import User
    from accounts.services import user_create

    rivals = [users.radiologist, user_create(username="rob", password="a-long-Password-123",
                                             role=User.Role.RADIOLOGIST)]
    studies = [radiology_studies.xray, radiology_studies.ct]
    for study in studies:
        outcomes = in_threads(2, lambda i, study=study: review.study_claim(user=rivals[i], study=study))
        winners = [o for o in outcomes if isinstance(o, Study)]
        losers = [o for o in outcomes if isinstance(o, ApplicationError)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        study.refresh_from_db()
        assert study.review == Study.Review.IN_REVIEW and study.claimed_by in rivals


def test_store_outcome_waits_for_the_row_lock_and_replaces_the_result(users, radiology_studies):
    study = radiology_studies.ct
    locked, release = threading.Event(), threading.Event()
    stored_at: list[float] = []

    def hold_the_row():
        from django.db import transaction

        try:
            with transaction.atomic():
                Study.objects.select_for_update().get(id=study.id)
                locked.set()
                release.wait(timeout=20)
        finally:
            connections.close_all()

    def store():
        try:
            state.store_outcome(study, result=StudyResult(study=study, top_class="replaced"), artifacts=[])
            stored_at.append(time.monotonic())
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(timeout=10)
    writer = threading.Thread(target=store)
    writer.start()
    servers.wait_for(waiting_queries, timeout=10, interval=0.05, what="the writer to wait for the lock")
    assert not stored_at, "_store_outcome did not wait for the lock"
    # it waits on its SELECT ... FOR UPDATE, before it touches the result or the artifacts
    (waiting,) = waiting_queries()
    assert "FOR UPDATE" in waiting and "diagnosis_study" in waiting
    released_at = time.monotonic()
    release.set()
    holder.join(timeout=20)
    writer.join(timeout=20)
    assert stored_at and stored_at[0] >= released_at
    assert StudyResult.objects.get(study=study).top_class == "replaced"


def waiting_queries() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def test_two_runs_storing_at_once_leave_one_result(users, radiology_studies):
    study = radiology_studies.ct
    outcomes = in_threads(2, lambda i: state.store_outcome(
        study, result=StudyResult(study=study, top_class=f"run-{i}"), artifacts=[]))
    assert outcomes == [None, None], outcomes
    assert StudyResult.objects.filter(study=study).count() == 1
    assert Study.objects.get(id=study.id).status == Study.Status.DONE


def test_overlapping_sweeps_on_two_connections_publish_each_study_once(users, monkeypatch):
    studies = [Study.objects.create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO) for _ in range(30)]
    Study.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    published: list[str] = []
    lock = threading.Lock()

    def publish(study_id):
        time.sleep(0.005)  # widens the window between a sweep's read and its claim
        with lock:
            published.append(study_id)

    monkeypatch.setattr(outbox, "send", lambda task_name, study_id: publish(study_id))
    outcomes = in_threads(3, lambda i: outbox.sweep_outbox())
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    assert sorted(published) == sorted(str(s.id) for s in studies)
    assert sum(o.get("unpublished", 0) for o in outcomes) == 30


def test_json_fields_round_trip(users, radiology_studies):
    findings = {
        "volume": {"shape": [24, 96, 96], "spacing": [2.5, 0.7, 0.7]},
        "pneumonia": {"probability": 0.1234567890123, "threshold": 0.578, "positive": False},
        "boxes": None, "not_installed": ["ct-pathology"], "note": "Пневмония не выявлена ✓",
        "nested": [{"a": [1, 2.5, None, True]}],
    }
    study = radiology_studies.ct
    StudyResult.objects.filter(study=study).delete()
    StudyResult.objects.create(study=study, top_class="normal", probabilities={"normal": 0.75, "pneumonia": 0.25},
                               models=[{"name": "pneumonia", "version": "1.0.0"}], findings=findings)
    result = StudyResult.objects.get(study=study)
    assert result.findings == findings and result.probabilities == {"normal": 0.75, "pneumonia": 0.25}
    assert result.models == [{"name": "pneumonia", "version": "1.0.0"}]
    # JSON lookups run in the database
    assert StudyResult.objects.filter(findings__volume__shape__0=24, findings__boxes=None).get() == result
    assert StudyResult.objects.filter(findings__pneumonia__positive=False, findings__note__icontains="пневмония").get() == result
    nodule = Nodule.objects.create(study=study, z=1, y=2, x=3, model={"name": "nodule-malignancy", "version": "1.0.0"})
    assert Nodule.objects.get(id=nodule.id).model["name"] == "nodule-malignancy"
    report = Report.objects.create(study=study, radiologist=users.radiologist, radiologist_name="Rita", agree=True,
                                   impression="ok", ai_findings={"classes": {"normal": 0.75}}, signed_at=timezone.now())
    assert Report.objects.get(id=report.id).ai_findings == {"classes": {"normal": 0.75}}
