"""The production queue on the machine's Redis: a real worker process consumes it and the
result store is Redis too. Keys carry this run's own prefix (tests/production/servers.py),
so the shared Redis is never flushed and parallel runs never share a queue."""

from __future__ import annotations

import uuid

import pytest

from lesions_project.celery import app as celery_app
from studies import services
from studies.models import Study
from tests.conditions import need
from tests.conftest import photo_upload
from tests.production import servers


@pytest.fixture
def redis_prefix() -> str:
    need(servers.redis_reachable(),
         f"Redis is not reachable at {servers.TEST_REDIS_URL}: start redis-server (or set TEST_REDIS_URL)")
    prefix = f"{servers.REDIS_KEY_PREFIX}{uuid.uuid4().hex[:6]}:"
    yield prefix
    servers.delete_redis_keys(servers.TEST_REDIS_URL, prefix)


@pytest.mark.django_db(transaction=True)
def test_an_upload_is_analysed_by_a_worker_on_redis(users, ml_weights, redis_prefix, tmp_path, settings):
    env = servers.worker_environment(redis_url=servers.TEST_REDIS_URL, key_prefix=redis_prefix,
                                     weights_dir=ml_weights, var_dir=tmp_path / "var")
    worker = servers.WorkerProcess(tmp_path / "worker.log", env, queues="ml,light")
    with servers.running(worker), servers.celery_broker(
            celery_app, servers.TEST_REDIS_URL, {"global_keyprefix": redis_prefix}):
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO,
                                      upload=photo_upload(), language="en")
        servers.wait_for(lambda: Study.objects.get(id=study.id).is_finished, timeout=90,
                         what=f"the study to be analysed; worker log:\n{worker.output()[-3000:]}")
    study.refresh_from_db()
    assert study.status == Study.Status.DONE, study.failure_reason
    assert study.queued_at is not None and study.analysis_attempts == 1
    assert study.result.top_class in study.result.probabilities
    assert study.artifacts.count() == 3
    assert "studies.analyse_study" in worker.output()

    import redis

    client = redis.Redis.from_url(servers.TEST_REDIS_URL)
    try:
        keys = {key.decode() for key in client.scan_iter(match=f"{redis_prefix}*")}
        assert f"{redis_prefix}_kombu.binding.ml" in keys, "the broker writes under the run's key prefix"
        assert not [key for key in keys if "celery-task-meta" in key], "tasks return nothing: no results stored"
        # the worker acknowledged the task: nothing is left waiting or unacknowledged
        assert client.llen(f"{redis_prefix}ml") == 0 and client.hlen(f"{redis_prefix}unacked") == 0
    finally:
        client.close()
