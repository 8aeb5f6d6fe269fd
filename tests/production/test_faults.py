"""Faults on servers the tests start themselves: a worker killed in the middle of a study,
and Redis stopped while a study is uploaded. Each test runs its own redis-server on a free
port (with a short visibility timeout, so a dead worker's task comes back in seconds) and
Celery worker processes on the test database."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lesions_project.celery import app as celery_app
from studies import services
from studies.intake.scans import radiology_studies_create
from studies.models import Artifact, Study, StudyResult
from tests.conditions import need
from tests.conftest import photo_upload
from tests.ml.model_fixtures import write_ct_series, write_test_ct_pathology, write_test_weights
from tests.production import servers

VISIBILITY_TIMEOUT = 3  # seconds before a dead worker's unacknowledged task is put back


@pytest.fixture
def redis_server(tmp_path):
    need(Path(servers.REDIS_SERVER).exists(),
         "redis-server is not installed: `apt-get install redis-server` to run the fault tests")
    server = servers.RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def slow_ct_weights(tmp_path_factory) -> Path:
    """The skin models and a ct-pathology network big enough (a 3D ResNet on a 128-voxel
    cube) that a CT's pre-read takes seconds of real work: long enough to kill it midway."""
    folder = tmp_path_factory.mktemp("slow-weights")
    write_test_weights(folder)
    write_test_ct_pathology(folder, architecture="resnet3d-small", input_size=(128, 128, 128))
    return folder


def worker(tmp_path: Path, redis: servers.RedisServer, weights: Path, name: str, *, queues: str = "ml",
           pool: str = "prefork", extra: tuple[str, ...] = (), **env: str) -> servers.WorkerProcess:
    environment = servers.worker_environment(
        redis_url=redis.url, key_prefix="", weights_dir=weights, var_dir=tmp_path / "var",
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT), CELERY_UNACKED_RESTORE_INTERVAL="1", **env)
    return servers.WorkerProcess(tmp_path / f"{name}.log", environment, queues=queues, pool=pool, extra=extra)


def send_ct(owner, folder: Path) -> Study:
    hu = np.full((24, 96, 96), -850.0, dtype=np.float32)
    hu[8:16, 30:60, 30:60] = 40.0
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in write_ct_series(folder, hu)]
    (study,) = radiology_studies_create(owner=owner, kind=Study.Kind.CT, uploads=files, language="en")
    return study


def state(study: Study) -> Study:
    return Study.objects.get(id=study.id)


def assert_done_once(study: Study, *, attempts: int) -> None:
    """Done, by ``attempts`` runs, with one result and one set of artifacts whose files are
    exactly those in the study's artifacts folder (no orphans of the killed run)."""
    study.refresh_from_db()
    assert study.status == Study.Status.DONE, study.failure_reason
    assert study.analysis_attempts == attempts
    assert StudyResult.objects.filter(study=study).count() == 1
    assert study.result.models == [{"name": "ct-pathology", "version": "0.0.0-test"}]
    artifacts = list(Artifact.objects.filter(study=study))
    assert sorted(a.kind for a in artifacts) == sorted(
        ["volume", "axial", "coronal", "sagittal", "montage"])
    storage = Artifact.file.field.storage
    on_disk = set(storage.listdir(f"studies/{study.id}/artifacts")[1])
    assert on_disk == {Path(a.file.name).name for a in artifacts}


def kill_when_classifying(study: Study, kill, log) -> None:
    servers.wait_for(lambda: state(study).stage == "classification", timeout=90, interval=0.02,
                     what=f"the study to be classified; worker log:\n{log()[-3000:]}")
    kill()
    killed = state(study)
    assert killed.status == Study.Status.PROCESSING and not StudyResult.objects.filter(study=study).exists(), \
        "the study finished before the worker was killed"


@pytest.mark.django_db(transaction=True)
def test_a_study_whose_pool_process_is_killed_is_run_again_by_its_worker(
        users, slow_ct_weights, redis_server, tmp_path):
    """The prefork pool's process dies (SIGKILL, as the out-of-memory killer does): the
    worker puts the task back at once (reject_on_worker_lost) and a new pool process takes
    over the study."""
    ml_worker = worker(tmp_path, redis_server, slow_ct_weights, "ml")
    with servers.running(ml_worker), servers.celery_broker(celery_app, redis_server.url, {}):
        study = send_ct(users.clinician, tmp_path / "ct")
        pool = servers.child_processes(ml_worker.process.pid)
        assert len(pool) == 1, pool
        kill_when_classifying(study, lambda: os.kill(pool[0], signal.SIGKILL), ml_worker.output)
        servers.wait_for(lambda: state(study).is_finished, timeout=120,
                         what=f"the study to be run again; worker log:\n{ml_worker.output()[-3000:]}")
    assert "WorkerLostError" in ml_worker.output()
    assert_done_once(study, attempts=2)


@pytest.mark.django_db(transaction=True)
def test_a_study_whose_worker_is_killed_is_finished_by_a_new_worker(users, slow_ct_weights, redis_server, tmp_path):
    """The whole worker dies (SIGKILL of the machine's worker and its pool): its
    unacknowledged task goes back to the queue after the visibility timeout, and the next
    worker finishes the study, once."""
    first = worker(tmp_path, redis_server, slow_ct_weights, "first")
    second = worker(tmp_path, redis_server, slow_ct_weights, "second")
    try:
        with servers.celery_broker(celery_app, redis_server.url, {}):
            first.start()
            study = send_ct(users.clinician, tmp_path / "ct")
            kill_when_classifying(study, first.kill, first.output)
            killed_at = time.monotonic()
            second.start()
            servers.wait_for(lambda: state(study).is_finished, timeout=120,
                             what=f"the study to be finished; worker log:\n{second.output()[-3000:]}")
            # the task came back through the broker, not before its visibility timeout
            assert time.monotonic() - killed_at >= VISIBILITY_TIMEOUT
    finally:
        first.kill()
        second.kill()
    assert_done_once(study, attempts=2)
    assert "analyse_study" in second.output()


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_redis_is_down_is_published_by_the_sweep_when_it_is_back(
        users, ml_weights, redis_server, tmp_path):
    """Redis stops: the upload still succeeds, its study waiting unpublished; Redis starts
    again (empty) and the light worker's beat runs the outbox sweep, which publishes the
    study, and a worker analyses it."""
    light_and_ml = worker(tmp_path, redis_server, ml_weights, "worker", queues="ml,light", pool="solo",
                          extra=("-B",), OUTBOX_SWEEP_SECONDS="1", OUTBOX_GRACE_SECONDS="1")
    with servers.running(light_and_ml), servers.celery_broker(celery_app, redis_server.url, {}):
        redis_server.stop()
        started = time.monotonic()
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO,
                                      upload=photo_upload(), language="en")
        assert time.monotonic() - started < 15, "an upload must not hang on a broker that is down"
        study.refresh_from_db()
        assert study.status == Study.Status.QUEUED and study.queued_at is None

        redis_server.start()
        servers.wait_for(lambda: state(study).is_finished, timeout=120,
                         what=f"the swept study to be analysed; worker log:\n{light_and_ml.output()[-3000:]}")
    study.refresh_from_db()
    assert study.status == Study.Status.DONE, study.failure_reason
    assert study.queued_at is not None and study.analysis_attempts == 1
    assert "Outbox sweep: {'unpublished': 1}" in light_and_ml.output()
