"""Queueing in production: routes and limits, the outbox (an upload survives a broker
outage; the sweep publishes what the broker missed, once), and tasks that are safe to run
twice (a duplicate, a redelivery after a worker died, a retry)."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from lesions_project.celery import app as celery_app
from radiology import nodules
from radiology import tasks as radiology_tasks
from radiology.models import Nodule
from studies import services
from studies.analysis import outbox, run, state, tasks
from studies.models import Artifact, Study, StudyResult
from tests.conftest import photo_upload

SETTINGS_FILE = str(Path(django_settings.BASE_DIR) / "lesions_project" / "settings.py")


@pytest.fixture
def published(monkeypatch) -> list[str]:
    """The study ids the services publish (the broker itself is not involved)."""
    ids: list[str] = []
    monkeypatch.setattr(outbox, "send", lambda task_name, study_id: ids.append(study_id))
    return ids


@pytest.fixture
def broker_down(monkeypatch) -> list[str]:
    """Every publish fails as it does when Redis is down; the attempts are listed."""
    attempts: list[str] = []

    def refuse(*args):
        attempts.append(args[0])
        raise BrokerUnavailable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox, "send", lambda task_name, study_id: refuse(study_id))
    return attempts


def upload(users, django_capture_on_commit_callbacks) -> Study:
    with django_capture_on_commit_callbacks(execute=True):
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO,
                                      upload=photo_upload(), language="en")
    study.refresh_from_db()
    return study


def age(study: Study, **fields) -> None:
    """Move the study's times back by the given timedeltas (created_at, queued_at, started_at)."""
    Study.objects.filter(id=study.id).update(**{name: timezone.now() - delta for name, delta in fields.items()})


def test_tasks_are_routed_to_their_queues_with_limits(settings):
    conf = celery_app.conf
    route = celery_app.amqp.router.route
    assert route({}, "studies.analyse_study")["queue"].name == "ml"
    assert route({}, "radiology.score_nodule")["queue"].name == "ml"
    assert route({}, "studies.sweep_outbox")["queue"].name == "light"
    assert set(celery_app.amqp.queues) == {"ml", "light"}  # a worker without -Q consumes both
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    analyse = celery_app.tasks["studies.analyse_study"]
    assert (analyse.soft_time_limit, analyse.time_limit) == (settings.ANALYSIS_SOFT_TIME_LIMIT, settings.ANALYSIS_TIME_LIMIT)
    assert analyse.soft_time_limit < analyse.time_limit and analyse.reject_on_worker_lost
    nodule = celery_app.tasks["radiology.score_nodule"]
    assert nodule.acks_late and nodule.soft_time_limit < nodule.time_limit
    sweep = conf.beat_schedule["outbox-sweep"]
    assert sweep["task"] == "studies.sweep_outbox" and sweep["schedule"] == settings.OUTBOX_SWEEP_SECONDS


def test_settings_use_redis_for_broker_and_results_when_redis_url_is_set(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/2")
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "45")
    monkeypatch.setenv("REDIS_KEY_PREFIX", "site-a:")
    monkeypatch.setenv("ANALYSIS_TIME_LIMIT", "900")
    values = runpy.run_path(SETTINGS_FILE)
    assert values["CELERY_BROKER_URL"] == values["CELERY_RESULT_BACKEND"] == "redis://cache.internal:6379/2"
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["visibility_timeout"] == 45 and options["global_keyprefix"] == "site-a:"
    assert values["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"]["global_keyprefix"] == "site-a:"
    assert values["CELERY_TASK_IGNORE_RESULT"] is True
    monkeypatch.delenv("CELERY_VISIBILITY_TIMEOUT")
    values = runpy.run_path(SETTINGS_FILE)
    # By default a redelivery waits out the hard time limit: a slow study never runs twice.
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] > 900


def test_settings_without_redis_use_the_filesystem_queue(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("BROKER_DIR", str(tmp_path / "broker"))
    values = runpy.run_path(SETTINGS_FILE)
    assert values["CELERY_BROKER_URL"] == "filesystem://" and values["CELERY_RESULT_BACKEND"] is None
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"] == str(tmp_path / "broker" / "in")


@pytest.mark.django_db
def test_a_published_study_records_when(users, django_capture_on_commit_callbacks, published):
    before = timezone.now()
    study = upload(users, django_capture_on_commit_callbacks)
    assert published == [str(study.id)]
    assert study.status == Study.Status.QUEUED and study.queued_at >= before


@pytest.mark.django_db
def test_an_upload_succeeds_while_the_broker_is_down(users, django_capture_on_commit_callbacks, broker_down, caplog):
    study = upload(users, django_capture_on_commit_callbacks)
    assert broker_down == [str(study.id)]
    assert study.status == Study.Status.QUEUED and study.queued_at is None
    assert study.get_status_display() == "Waiting in the queue"
    assert "the outbox sweep will publish it" in caplog.text


@pytest.mark.django_db
def test_an_api_upload_succeeds_while_the_broker_is_down(users, broker_down, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(users.patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/studies/", {"kind": "skin_photo", "file": photo_upload()},
                               format="multipart")
    assert response.status_code == 201, response.content
    study = Study.objects.get()
    assert response.json()["status"] == "queued" and study.queued_at is None and len(broker_down) == 1


@pytest.mark.django_db
def test_the_sweep_publishes_studies_the_broker_never_got(users, django_capture_on_commit_callbacks, monkeypatch):
    def refuse(task_name, *args):
        raise BrokerUnavailable("down")

    monkeypatch.setattr(outbox, "send", refuse)
    missed = upload(users, django_capture_on_commit_callbacks)
    recent = upload(users, django_capture_on_commit_callbacks)
    age(missed, created_at=timedelta(minutes=2))
    ids: list[str] = []
    monkeypatch.setattr(outbox, "send", lambda task_name, study_id: ids.append(study_id))

    assert tasks.sweep_outbox.apply().get() == {"unpublished": 1}
    assert ids == [str(missed.id)]  # the recent one may still be on its way
    missed.refresh_from_db()
    recent.refresh_from_db()
    assert missed.queued_at is not None and recent.queued_at is None
    assert outbox.sweep_outbox() == {}  # published once


@pytest.mark.django_db
def test_overlapping_sweeps_publish_a_study_once(users, django_capture_on_commit_callbacks, broker_down, monkeypatch):
    studies = [upload(users, django_capture_on_commit_callbacks) for _ in range(3)]
    for study in studies:
        age(study, created_at=timedelta(minutes=1))
    ids: list[str] = []
    nested: list[dict] = []

    def publish(study_id):
        ids.append(study_id)
        if len(nested) < 3:  # a second sweep runs while the first is publishing
            nested.append(outbox.sweep_outbox())

    monkeypatch.setattr(outbox, "send", lambda task_name, study_id: publish(study_id))
    outbox.sweep_outbox()
    assert sorted(ids) == sorted(str(s.id) for s in studies) and len(ids) == 3


@pytest.mark.django_db
def test_the_sweep_stops_while_the_broker_is_down(users, django_capture_on_commit_callbacks, broker_down):
    studies = [upload(users, django_capture_on_commit_callbacks) for _ in range(2)]
    for study in studies:
        age(study, created_at=timedelta(minutes=1))
    broker_down.clear()
    assert outbox.sweep_outbox() == {"broker_down": 1}
    assert len(broker_down) == 1
    assert not Study.objects.filter(queued_at__isnull=False).exists()  # both still waiting


@pytest.mark.django_db
def test_the_sweep_publishes_lost_and_stuck_studies_and_gives_up_on_dying_ones(
        users, django_capture_on_commit_callbacks, published, settings):
    lost, stuck, fresh, dying = (upload(users, django_capture_on_commit_callbacks) for _ in range(4))
    published.clear()
    long_ago = timedelta(seconds=settings.OUTBOX_REPUBLISH_SECONDS + 60)
    age(lost, created_at=long_ago, queued_at=long_ago)
    past_limit = timedelta(seconds=settings.ANALYSIS_TIME_LIMIT + settings.STUCK_MARGIN_SECONDS + 60)
    for study, started in ((stuck, past_limit), (fresh, timedelta(seconds=30)), (dying, past_limit)):
        Study.objects.filter(id=study.id).update(status=Study.Status.PROCESSING, analysis_attempts=1)
        age(study, created_at=past_limit, queued_at=past_limit, started_at=started)
    Study.objects.filter(id=dying.id).update(analysis_attempts=settings.ANALYSIS_MAX_ATTEMPTS)

    assert outbox.sweep_outbox() == {"lost": 1, "stuck": 1, "given_up": 1}
    assert sorted(published) == sorted([str(lost.id), str(stuck.id)])
    dying.refresh_from_db()
    assert dying.status == Study.Status.FAILED and "interrupted several times" in dying.failure_reason
    assert outbox.sweep_outbox() == {}


# The task is safe to run twice --------------------------------------------------------


@pytest.mark.django_db
def test_a_duplicate_task_leaves_a_finished_study_alone(analysed_study):
    finished_at, result_id = analysed_study.finished_at, analysed_study.result.id
    tasks.analyse_study.apply(args=[str(analysed_study.id)])
    analysed_study.refresh_from_db()
    assert analysed_study.finished_at == finished_at and analysed_study.result.id == result_id
    assert analysed_study.analysis_attempts == 1


@pytest.mark.django_db
def test_a_duplicate_task_leaves_a_study_another_run_is_processing(queued_study, ml_weights):
    Study.objects.filter(id=queued_study.id).update(
        status=Study.Status.PROCESSING, started_at=timezone.now(), analysis_attempts=1)
    tasks.analyse_study.apply(args=[str(queued_study.id)])
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.PROCESSING and queued_study.analysis_attempts == 1


@pytest.mark.django_db
def test_a_redelivered_task_takes_over_an_interrupted_run_and_finishes_once(queued_study, ml_weights, settings):
    # The first run died while saving: its files are on disk, its rows were never committed.
    Study.objects.filter(id=queued_study.id).update(
        status=Study.Status.PROCESSING, stage=Study.Stage.SAVING, started_at=timezone.now(), analysis_attempts=1)
    storage = Artifact.file.field.storage
    leftover = storage.save(f"studies/{queued_study.id}/artifacts/leftover.jpg", ContentFile(b"half"))

    tasks.analyse_study.apply(args=[str(queued_study.id)], retries=1)  # a retry may resume

    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.DONE and queued_study.analysis_attempts == 2
    assert StudyResult.objects.filter(study=queued_study).count() == 1
    names = set(storage.listdir(f"studies/{queued_study.id}/artifacts")[1])
    stored = {a.file.name.rsplit("/", 1)[1] for a in queued_study.artifacts.all()}
    assert len(stored) == 3 and names == stored and not storage.exists(leftover)


def test_a_redelivery_or_a_retry_may_resume_a_processing_study():
    class Request:
        retries = 0
        delivery_info = {"redelivered": True}

    assert tasks.resumes(Request())
    Request.delivery_info = {"redelivered": False}
    assert not tasks.resumes(Request())
    Request.retries = 1
    assert tasks.resumes(Request())


@pytest.mark.django_db
def test_a_study_whose_runs_keep_dying_fails_with_a_reason(queued_study, ml_weights, settings):
    Study.objects.filter(id=queued_study.id).update(
        status=Study.Status.PROCESSING, started_at=timezone.now(), analysis_attempts=settings.ANALYSIS_MAX_ATTEMPTS)
    tasks.analyse_study.apply(args=[str(queued_study.id)], retries=1)
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    assert queued_study.failure_reason == str(state.ANALYSIS_INTERRUPTED)


@pytest.mark.django_db
def test_the_soft_time_limit_fails_the_study_with_a_plain_reason(queued_study, ml_weights, monkeypatch):
    partial: list[str] = []

    def interrupted(study, *, progress, written: list[str]):
        written.append(Artifact.file.field.storage.save(f"studies/{study.id}/artifacts/x.jpg", ContentFile(b"x")))
        partial.extend(written)
        raise SoftTimeLimitExceeded()  # what the worker raises in the task at the soft limit

    monkeypatch.setitem(run.PREREADS, Study.Kind.SKIN_PHOTO, interrupted)
    tasks.analyse_study.apply(args=[str(queued_study.id)])
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    assert queued_study.failure_reason == str(state.ANALYSIS_TOO_LONG)
    assert partial and not Artifact.file.field.storage.exists(partial[0])


@pytest.mark.django_db
def test_the_hard_time_limit_fails_the_study_but_never_a_finished_one(queued_study, analysed_study):
    task = celery_app.tasks["studies.analyse_study"]
    task.on_failure(TimeLimitExceeded(720), "task-id", [str(analysed_study.id)], {}, None)
    analysed_study.refresh_from_db()
    assert analysed_study.status == Study.Status.DONE
    Study.objects.filter(id=analysed_study.id).update(status=Study.Status.PROCESSING)
    task.on_failure(TimeLimitExceeded(720), "task-id", [str(analysed_study.id)], {}, None)
    analysed_study.refresh_from_db()
    assert analysed_study.status == Study.Status.FAILED
    assert analysed_study.failure_reason == str(state.ANALYSIS_TOO_LONG)


@pytest.mark.django_db
def test_a_nodule_that_cannot_be_queued_fails_with_a_reason(users, radiology_studies, broker_down,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        nodule = nodules.nodule_mark(user=users.radiologist, study=radiology_studies.ct, point=(1, 2, 3))
    nodule.refresh_from_db()
    assert nodule.status == Nodule.Status.FAILED and "mark it again" in nodule.failure_reason


@pytest.mark.django_db
def test_a_duplicate_nodule_task_leaves_a_scored_nodule_alone(users, radiology_studies, monkeypatch):
    nodule = Nodule.objects.create(study=radiology_studies.ct, marked_by=users.radiologist, z=1, y=2, x=3,
                                   status=Nodule.Status.DONE, probability=0.25, threshold=0.5)
    monkeypatch.setattr(nodules, "_score", lambda nodule: pytest.fail("scored twice"))
    radiology_tasks.score_nodule.apply(args=[nodule.id])
    nodule.refresh_from_db()
    assert nodule.status == Nodule.Status.DONE and nodule.probability == 0.25


@pytest.mark.django_db
def test_the_hard_time_limit_fails_a_nodule(users, radiology_studies):
    nodule = Nodule.objects.create(study=radiology_studies.ct, marked_by=users.radiologist, z=1, y=2, x=3)
    celery_app.tasks["radiology.score_nodule"].on_failure(TimeLimitExceeded(180), "task-id", [nodule.id], {}, None)
    nodule.refresh_from_db()
    assert nodule.status == Nodule.Status.FAILED and nodule.failure_reason == str(state.ANALYSIS_TOO_LONG)
