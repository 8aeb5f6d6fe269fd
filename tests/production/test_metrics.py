"""Prometheus metrics at /metrics: HTTP requests, queue gauges, the worker's study timings,
multi-process files, and who may scrape."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import warnings
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from lesions_project import metrics
from studies import services
from studies.analysis import tasks
from studies.models import Study
from tests.conditions import need
from tests.conftest import photo_upload
from tests.production import servers
from tests.production.test_health import broker

OUR_METRICS = (metrics.HTTP_REQUESTS, metrics.HTTP_LATENCY, metrics.STUDY_DURATION,
               metrics.STUDY_STAGE_DURATION, metrics.STUDY_FAILURES)


def _use_folder(folder: Path) -> None:
    """Close this process's metric files and start again in `folder`."""
    with warnings.catch_warnings():  # "clearing labels is not implemented in multi-process mode"
        warnings.simplefilter("ignore", UserWarning)
        for metric in OUR_METRICS:
            metric.clear()  # forgets this process's children; their files are closed below
    values.close_all_multiprocess_files()
    metrics._folder = None
    django_settings.PROMETHEUS_MULTIPROC_DIR = folder
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


@pytest.fixture
def metrics_folder(tmp_path) -> Path:
    """A folder of this test's own: other test runs on this machine share var/metrics."""
    original = django_settings.PROMETHEUS_MULTIPROC_DIR
    original_env = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = tmp_path / "metrics"
    _use_folder(folder)
    yield folder
    _use_folder(original)
    if original_env is None:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = original_env


def scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def sample(text: str, name: str, **labels) -> float | None:
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return item.value
    return None


@pytest.mark.django_db
def test_requests_are_counted_by_method_route_and_status(client, metrics_folder):
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.get("/no-such-page").status_code == 404
    text = scrape(client)
    assert sample(text, "lesions_http_requests_total", method="GET", route="healthz", status="200") == 2
    assert sample(text, "lesions_http_requests_total", method="POST", route="healthz", status="405") == 1
    assert sample(text, "lesions_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert sample(text, "lesions_http_request_duration_seconds_count", method="GET", route="healthz") == 2
    assert sample(text, "lesions_http_request_duration_seconds_bucket", method="GET", route="healthz", le="+Inf") == 2
    assert any(path.name.startswith("counter_") for path in metrics_folder.iterdir())


@pytest.mark.django_db
@pytest.mark.parametrize(("address", "headers", "status"), [
    ("127.0.0.1", {}, 200),
    ("::1", {}, 200),
    ("10.4.0.7", {}, 200),
    ("172.18.0.5", {}, 200),
    ("203.0.113.9", {}, 403),
    ("8.8.8.8", {}, 403),
    ("2001:db8::1", {}, 403),
    # through nginx the address is nginx's own: the forwarded header gives it away
    ("172.18.0.5", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 403),
    ("127.0.0.1", {"HTTP_X_REAL_IP": "203.0.113.9"}, 403),
])
def test_only_the_private_network_may_scrape_without_a_token(client, metrics_folder, address, headers, status):
    assert client.get("/metrics", REMOTE_ADDR=address, **headers).status_code == status


@pytest.mark.django_db
def test_with_a_token_only_the_token_may_scrape(client, metrics_folder, settings):
    settings.METRICS_TOKEN = "a-long-random-metrics-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="203.0.113.9",
                         HTTP_AUTHORIZATION="Bearer a-long-random-metrics-token")
    assert allowed.status_code == 200 and b"lesions_studies_waiting" in allowed.content


def test_metrics_are_not_cached_and_not_redirected_to_https(client, metrics_folder, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_queue_gauges_count_the_broker_and_the_database(client, users, broker_dir, metrics_folder,
                                                        django_capture_on_commit_callbacks):
    before = set((broker_dir / "in").iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(), language="en")
    published = set((broker_dir / "in").iterdir()) - before
    try:
        assert len(published) == 1
        text = scrape(client)
        assert sample(text, "lesions_queue_length", queue="ml") == 1 + sum(
            1 for path in before if path.name.endswith(".ml.msg"))
        assert sample(text, "lesions_queue_length", queue="light") is not None
        assert sample(text, "lesions_studies_waiting", kind="skin_photo", status="queued") == 1
        assert sample(text, "lesions_studies_waiting", kind="ct", status="processing") == 0
        assert sample(text, "lesions_studies_oldest_waiting_seconds", kind="skin_photo", status="queued") >= 0
    finally:
        for path in published:
            path.unlink()


def test_queue_names_come_from_settings(settings):
    settings.CELERY_TASK_QUEUES = {"gpu-a": {}, "cpu": {}}
    assert metrics.queue_names() == ["gpu-a", "cpu"]
    del settings.CELERY_TASK_QUEUES
    settings.CELERY_TASK_DEFAULT_QUEUE = "only"
    assert metrics.queue_names() == ["only"]


def test_redis_queue_lengths_count_every_priority_list():
    need(servers.redis_reachable(), f"Redis is not reachable at {servers.TEST_REDIS_URL}")
    import redis

    prefix = f"{servers.REDIS_KEY_PREFIX}metrics-{uuid.uuid4().hex[:6]}:"
    client = redis.Redis.from_url(servers.TEST_REDIS_URL)
    try:
        client.rpush(f"{prefix}ml", "a", "b")
        client.rpush(f"{prefix}ml\x06\x166", "c")
        client.rpush(f"{prefix}light", "d")
        assert metrics.redis_queue_lengths(servers.TEST_REDIS_URL, ["ml", "light", "other"], prefix=prefix) == {
            "ml": 3, "light": 1, "other": 0}
    finally:
        servers.delete_redis_keys(servers.TEST_REDIS_URL, prefix)
        client.close()


@pytest.mark.django_db
def test_a_scrape_survives_a_broker_that_is_down(client, metrics_folder):
    with broker(f"redis://127.0.0.1:{servers.free_port()}/0"):
        text = scrape(client)
    assert sample(text, "lesions_queue_length", queue="ml") is None
    assert sample(text, "lesions_studies_waiting", kind="skin_photo", status="queued") == 0


@pytest.mark.django_db
def test_the_worker_records_durations_and_stages_of_a_finished_study(client, queued_study, ml_weights, metrics_folder):
    tasks.analyse_study.apply(args=[str(queued_study.id)])  # in-process: the worker's signals run
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.DONE, queued_study.failure_reason
    text = scrape(client)
    assert sample(text, "lesions_study_duration_seconds_count", kind="skin_photo") == 1
    total = sample(text, "lesions_study_duration_seconds_sum", kind="skin_photo")
    assert total == pytest.approx((queued_study.finished_at - queued_study.started_at).total_seconds())
    for stage in queued_study.result.findings["timings"]:
        assert sample(text, "lesions_study_stage_duration_seconds_count", kind="skin_photo", stage=stage) == 1
    assert sample(text, "lesions_study_failures_total", kind="skin_photo") is None


@pytest.mark.django_db
def test_the_worker_counts_a_failed_study(client, queued_study, metrics_folder):
    tasks.analyse_study.apply(args=[str(queued_study.id)])  # no weights installed: it fails
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    text = scrape(client)
    assert sample(text, "lesions_study_failures_total", kind="skin_photo") == 1
    assert sample(text, "lesions_study_duration_seconds_count", kind="skin_photo") is None


@pytest.mark.django_db
def test_values_of_every_process_are_added_up(client, metrics_folder):
    metrics.multiprocess_dir()
    metrics.STUDY_FAILURES.labels("ct").inc(2)
    script = ("import django; django.setup()\n"
              "from lesions_project import metrics\n"
              "metrics.STUDY_FAILURES.labels('ct').inc(3)\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "lesions_project.settings",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_folder)}
    done = subprocess.run([sys.executable, "-c", script], cwd=django_settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list(metrics_folder.glob("counter_*.db"))) == 2  # one file per process
    assert sample(scrape(client), "lesions_study_failures_total", kind="ct") == 5
    metrics.mark_process_dead(12345)  # gunicorn's child_exit hook: nothing to forget, no error


def test_a_worker_machine_serves_its_own_metrics(metrics_folder, settings):
    metrics.multiprocess_dir()
    metrics.STUDY_FAILURES.labels("chest_xray").inc()
    server = metrics.serve_worker_metrics(0, "127.0.0.1")
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
        assert sample(text, "lesions_study_failures_total", kind="chest_xray") == 1
        assert "lesions_queue_length" not in text  # the web's scrape has the shared gauges
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/other", timeout=10)
        assert missing.value.code == 404
        settings.METRICS_TOKEN = "worker-token"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/metrics", timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": "Bearer worker-token"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
