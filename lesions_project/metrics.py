"""Prometheus metrics: what the web answers, what waits in the queues, how long studies take.

- HTTP: a counter by method, route name and status, and a latency histogram, recorded by
  RequestMetricsMiddleware (first in MIDDLEWARE).
- Queues, computed when scraped: messages waiting in each Celery queue (settings'
  CELERY_TASK_QUEUES; Redis LLEN, or the filesystem broker's folder) and studies waiting in
  the database by kind and status, with the age of the oldest.
- Studies, observed in the worker when an analysis ends (a task_postrun signal, connected by
  the import at the end of lesions_project/celery.py): total duration (finished_at -
  started_at) and each stage's (StudyResult.findings["timings"]) by kind; failures by kind.

Web and worker are separate processes (gunicorn runs several), so values live in files in
PROMETHEUS_MULTIPROC_DIR, one per process, and a scrape adds them up (prometheus_client's
multiprocess mode). Processes of several containers may share that folder: a file is named
after the host name and the pid, since pids repeat across containers.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import current_app as app
from celery.signals import task_postrun, worker_ready
from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from lesions_project.health import is_redis_url, redis_client
from ml.timing import Stopwatch

logger = logging.getLogger(__name__)

ANALYSE_TASK = "studies.analyse_study"  # studies.analysis.outbox.ANALYSE_STUDY_TASK

HTTP_REQUESTS = Counter(
    "lesions_http_requests", "HTTP responses by method, route name and status.",
    ["method", "route", "status"], registry=None,
)
HTTP_LATENCY = Histogram(
    "lesions_http_request_duration_seconds", "Time to produce an HTTP response, by method and route name.",
    ["method", "route"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
STUDY_DURATION = Histogram(
    "lesions_study_duration_seconds", "A study's analysis from start to result, by kind.",
    ["kind"], registry=None,
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900),
)
STUDY_STAGE_DURATION = Histogram(
    "lesions_study_stage_duration_seconds", "One stage of a study's analysis, by kind and stage.",
    ["kind", "stage"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
STUDY_FAILURES = Counter(
    "lesions_study_failures", "Analyses that ended with the study failed, by kind.", ["kind"], registry=None,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
_setup_lock = threading.Lock()
_folder: Path | None = None


def _process_identifier() -> str:
    return f"{_HOST}-{os.getpid()}"


def multiprocess_dir() -> Path:
    """The folder of this machine's metric files, created on first use; from then on every
    metric value of this process (and of its forks) lives in a file there."""
    global _folder  # noqa: PLW0603  one folder per process, set under _setup_lock
    with _setup_lock:
        if _folder is None:
            folder = Path(settings.PROMETHEUS_MULTIPROC_DIR)
            folder.mkdir(parents=True, exist_ok=True)
            # prometheus_client names the files from this variable and picks the value class
            # when it is imported, which may have happened before settings were read.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
            values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)
            _folder = folder
        return _folder


def mark_process_dead(pid: int) -> None:
    """For gunicorn's child_exit hook: forget a dead worker's live gauges (there are none
    today; counters and histograms of dead processes keep counting, as they must)."""
    multiprocess.mark_process_dead(f"{_HOST}-{pid}", str(multiprocess_dir()))


# --- HTTP -------------------------------------------------------------------------------

class RequestMetricsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        multiprocess_dir()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        watch = Stopwatch()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, route).observe(watch.seconds)
        return response


# --- who may scrape ---------------------------------------------------------------------

def scrape_refusal(*, remote_addr: str, proxied: bool, authorization: str) -> int | None:
    """None when a scrape may be answered, else the status to answer (401 or 403).

    With METRICS_TOKEN set, only `Authorization: Bearer <token>` is answered, from anywhere.
    Without it, only requests made directly (no X-Forwarded-For: not through nginx) from a
    loopback or private address: behind a proxy the address is the proxy's own."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _space, presented = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return None
        return 401
    if proxied or not _is_internal(remote_addr):
        return 403
    return None


# Loopback and the private ranges of RFC 1918 and RFC 4193 (ipaddress's is_private would
# also admit documentation and other reserved ranges).
_INTERNAL_NETWORKS = tuple(ipaddress.ip_network(net) for net in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"))


# Present when a request came through a proxy (nginx sets the first two).
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _is_internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _INTERNAL_NETWORKS)


def _refusal_response(status: int) -> HttpResponse:
    if status == 401:
        response = HttpResponse(_("A valid metrics token is required."), status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(_("Metrics are served only to the monitoring network."), status=403,
                        content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = scrape_refusal(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        proxied=any(h in request.META for h in _PROXY_HEADERS),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
    )
    if refusal is not None:
        return _refusal_response(refusal)
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(scrape_registry(with_queues=True)), content_type=content_type)


def scrape_registry(*, with_queues: bool) -> CollectorRegistry:
    """What a scrape shows: every process's files, and (web) the queue gauges."""
    registry = CollectorRegistry(auto_describe=True)
    multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir()))
    if with_queues:
        registry.register(QueueCollector())
    return registry


# --- queues, computed when scraped --------------------------------------------------------

class QueueCollector:
    """Gauges read at scrape time, the same whichever process or machine answers: use
    max(), not sum(), across several web targets."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queued = GaugeMetricFamily("lesions_queue_length", "Messages waiting in each Celery queue.",
                                   labels=["queue"])
        try:
            for name, length in broker_queue_lengths().items():
                queued.add_metric([name], length)
            yield queued
        except Exception:
            logger.warning("Metrics: the broker's queue lengths could not be read", exc_info=True)
        try:
            yield from _waiting_studies()
        except Exception:
            logger.warning("Metrics: waiting studies could not be counted", exc_info=True)


def queue_names() -> list[str]:
    """The Celery queues named in settings (CELERY_TASK_QUEUES), else the default queue."""
    queues = getattr(settings, "CELERY_TASK_QUEUES", None)
    if isinstance(queues, dict):
        names = list(queues)
    elif queues:
        names = [getattr(queue, "name", queue) for queue in queues]
    else:
        names = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or "celery"]
    return [str(name) for name in names]


def broker_queue_lengths() -> dict[str, int]:
    url = str(app.conf.broker_url or "")
    options = app.conf.broker_transport_options or {}
    if is_redis_url(url):
        return redis_queue_lengths(url, queue_names(), prefix=options.get("global_keyprefix", ""))
    if url.startswith("filesystem://"):
        return filesystem_queue_lengths(Path(options["data_folder_in"]), queue_names())
    return {}


# kombu keeps a Redis queue as one list per priority step: name, then name + "\x06\x16" + 3, 6, 9.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def redis_queue_lengths(url: str, names: Iterable[str], *, prefix: str = "") -> dict[str, int]:
    names = list(names)
    client = redis_client(url)
    try:
        pipeline = client.pipeline(transaction=False)
        for name in names:
            for suffix in _PRIORITY_SUFFIXES:
                pipeline.llen(f"{prefix}{name}{suffix}")
        lengths = pipeline.execute()
    finally:
        client.close()
    step = len(_PRIORITY_SUFFIXES)
    return {name: sum(lengths[i * step:(i + 1) * step]) for i, name in enumerate(names)}


def filesystem_queue_lengths(folder: Path, names: Iterable[str]) -> dict[str, int]:
    """kombu's filesystem transport names a message `<time>_<uuid>.<queue>.msg`."""
    lengths = dict.fromkeys(names, 0)
    for entry in os.scandir(folder):
        queue = entry.name.partition(".")[2].removesuffix(".msg")
        if queue in lengths and entry.name.endswith(".msg"):
            lengths[queue] += 1
    return lengths


def _waiting_studies() -> Iterator[GaugeMetricFamily]:
    from studies.models import Study  # noqa: PLC0415  models need the app registry; this module loads before it

    waiting = GaugeMetricFamily("lesions_studies_waiting", "Studies queued or being analysed, by kind and status.",
                                labels=["kind", "status"])
    oldest = GaugeMetricFamily("lesions_studies_oldest_waiting_seconds",
                               "Age of the oldest study queued or being analysed, by kind and status.",
                               labels=["kind", "status"])
    statuses = (Study.Status.QUEUED, Study.Status.PROCESSING)
    rows = {(row["kind"], row["status"]): row for row in
            Study.objects.filter(status__in=statuses).order_by().values("kind", "status")
            .annotate(count=Count("id"), oldest=Min("created_at"))}
    now = timezone.now()
    for kind in Study.Kind.values:
        for status in statuses:
            row = rows.get((kind, status))
            waiting.add_metric([kind, status], row["count"] if row else 0)
            oldest.add_metric([kind, status], (now - row["oldest"]).total_seconds() if row else 0)
    yield waiting
    yield oldest


# --- studies, observed in the worker -----------------------------------------------------

@task_postrun.connect
def _observe_analysis(sender=None, task=None, args=None, kwargs=None, state=None, **extra) -> None:
    if task is None or task.name != ANALYSE_TASK or state == "RETRY":
        return
    study_id = (args or [None])[0] or (kwargs or {}).get("study_id")
    if study_id is None:
        return
    try:
        observe_study(study_id)
    except Exception:  # a metric must never fail a study
        logger.warning("Metrics: study %s could not be observed", study_id, exc_info=True)


def observe_study(study_id) -> None:
    """Record how a study's analysis ended: its durations when done, a failure when failed."""
    from studies.models import Study, StudyResult  # noqa: PLC0415  (see _waiting_studies)

    multiprocess_dir()
    study = Study.objects.filter(id=study_id).values("kind", "status", "started_at", "finished_at").first()
    if study is None:
        return
    kind = study["kind"]
    if study["status"] == Study.Status.FAILED:
        STUDY_FAILURES.labels(kind).inc()
    elif study["status"] in (Study.Status.DONE, Study.Status.NOT_ASSESSABLE):
        if study["started_at"] and study["finished_at"]:
            STUDY_DURATION.labels(kind).observe(max(0.0, (study["finished_at"] - study["started_at"]).total_seconds()))
        findings = StudyResult.objects.filter(study_id=study_id).values_list("findings", flat=True).first() or {}
        for stage, seconds in (findings.get("timings") or {}).items():
            if isinstance(seconds, (int, float)):
                STUDY_STAGE_DURATION.labels(kind, str(stage)[:32]).observe(float(seconds))


# --- a worker's own endpoint (machines without the web) ------------------------------------

@worker_ready.connect
def _serve_worker_metrics(sender=None, **kwargs) -> None:
    port = settings.WORKER_METRICS_PORT
    if port:
        serve_worker_metrics(port)


def serve_worker_metrics(port: int, address: str = "0.0.0.0"):  # noqa: S104  scrapes come from the network; access is checked
    """Serve this machine's metric files at http://address:port/metrics from a thread, with
    the web's access rules. The queue gauges are left to the web, so they are counted once."""
    multiprocess_dir()

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found\n"]
        refusal = scrape_refusal(
            remote_addr=environ.get("REMOTE_ADDR", ""),
            proxied=any(h in environ for h in _PROXY_HEADERS),
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
        )
        if refusal is not None:
            start_response(f"{refusal} {'Unauthorized' if refusal == 401 else 'Forbidden'}",
                           [("Content-Type", "text/plain")])
            return [b"Refused\n"]
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        start_response("200 OK", [("Content-Type", content_type)])
        return [encoder(scrape_registry(with_queues=False))]

    class _Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class _QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args) -> None:  # noqa: A002  the name of the method it overrides
            pass

    server = make_server(address, port, app, server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    logger.info("Worker metrics on http://%s:%s/metrics", address, server.server_port)
    return server
