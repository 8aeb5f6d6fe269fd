"""Celery tasks: thin wrappers that hand an id to a service.

Queues and limits are in settings ("# Celery"): analyse_study and score_nodule go to the `ml`
queue, sweep_outbox to `light`. Tasks are acknowledged when they end and put back when their
worker dies (acks_late, reject_on_worker_lost); the services make a second run harmless.
"""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import OperationalError
from django.db.models import Q

from diagnosis import queueing, services
from diagnosis.models import Study

logger = logging.getLogger(__name__)


class _StudyTask(Task):
    """Records the hard time limit on the study: the worker killed the run, so the task
    itself cannot (this runs in the worker's main process)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        study_id = args[0] if args else (kwargs or {}).get("study_id")
        if isinstance(exc, TimeLimitExceeded) and study_id:
            logger.error("Study %s: the analysis reached its hard time limit", study_id)
            _record_final_failure(study_id, services.ANALYSIS_TOO_LONG)


class _NoduleTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        nodule_id = args[0] if args else (kwargs or {}).get("nodule_id")
        if isinstance(exc, TimeLimitExceeded) and nodule_id:
            logger.error("Nodule %s: the scoring reached its hard time limit", nodule_id)
            try:
                services.nodule_mark_failed(nodule_id=nodule_id, reason=services.ANALYSIS_TOO_LONG)
            except OperationalError:
                logger.exception("Nodule %s: could not record the failure either", nodule_id)


# A heavy task on the ml queue: acknowledged once done, redelivered if its worker dies,
# database errors retried with back-off.
ML_TASK = dict(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)


@shared_task(
    bind=True,
    base=_StudyTask,
    **ML_TASK,
    soft_time_limit=settings.ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=settings.ANALYSIS_TIME_LIMIT,
)
def analyse_study(self, study_id: str) -> None:
    try:
        services.study_analyse(study_id=study_id, rerun=False, resume=_resumes(self.request))
    except SoftTimeLimitExceeded:
        logger.error("Study %s: the analysis reached its soft time limit", study_id)
        _record_final_failure(study_id, services.ANALYSIS_TOO_LONG)
    except OperationalError:
        if self.request.retries >= self.max_retries:
            logger.exception("Study %s: database errors persisted; giving up", study_id)
            _record_final_failure(study_id)
        raise


@shared_task(
    base=_NoduleTask,
    **ML_TASK,
    soft_time_limit=settings.NODULE_SOFT_TIME_LIMIT,
    time_limit=settings.NODULE_TIME_LIMIT,
)
def score_nodule(nodule_id: int) -> None:
    services.nodule_score(nodule_id=nodule_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Publish the studies the broker does not hold (diagnosis.queueing); run by beat."""
    counts = queueing.outbox_sweep()
    if counts:
        logger.info("Outbox sweep: %s", counts)
    return counts


def _resumes(request) -> bool:
    """This delivery may take over a study left processing: a retry of this task, or a
    message the broker redelivered because the worker that had it died."""
    return bool(request.retries) or bool((request.delivery_info or {}).get("redelivered"))


def _record_final_failure(study_id: str, reason=None) -> None:
    """Mark the study failed unless a run has finished it meanwhile."""
    unfinished = Q(status__in=[Study.Status.QUEUED, Study.Status.PROCESSING])
    try:
        services.study_mark_failed(study_id=study_id, reason=reason, only_if=unfinished)
    except OperationalError:
        logger.exception("Study %s: could not record the failure either", study_id)
