"""The analysis task run by a real Celery worker over the filesystem broker."""
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError

from lesions_project.celery import app as celery_app
from studies import services
from studies.analysis import tasks
from studies.models import Study
from tests.conftest import photo_upload


@pytest.mark.django_db(transaction=True)
def test_uploaded_study_is_analysed_by_a_worker(users, ml_weights):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        study = services.study_create(
            owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(), language="en"
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            study.refresh_from_db()
            if study.is_finished:
                break
            time.sleep(0.25)
    assert study.status == Study.Status.DONE, study.failure_reason
    assert study.result.top_class in study.result.probabilities
    assert study.artifacts.count() == 3


def test_task_options():
    task = celery_app.tasks["studies.analyse_study"]
    assert task.acks_late is True
    assert task.max_retries == 3
    assert task.autoretry_for == (OperationalError,)


@pytest.mark.django_db
def test_task_body_runs_the_service(queued_study, tmp_path, settings):
    settings.ML_WEIGHTS_DIR = tmp_path / "nothing-here"
    tasks.analyse_study.apply(args=[str(queued_study.id)])  # in-process, no broker
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    assert "not installed" in queued_study.failure_reason
