"""Celery tasks of the analysis: thin wrappers that hand an id to the run.

Queues and limits are in settings ("# Celery"): analyse_study goes to the `ml` queue,
sweep_outbox to `light`. Tasks are acknowledged when they end and put back when their
worker dies (acks_late, reject_on_worker_lost); the run makes a second delivery harmless.
"""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import OperationalError
from django.db.models import Q

from studies.analysis import outbox, run, state
from studies.models import Study

logger = logging.getLogger(__name__)

# A heavy task on the ml queue: acknowledged once done, redelivered if its worker dies,
# database errors retried with back-off.
ML_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 3,
}


class _StudyTask(Task):
    """Records the hard time limit on the study: the worker killed the run, so the task
    itself cannot (this runs in the worker's main process)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        study_id = args[0] if args else (kwargs or {}).get("study_id")
        if isinstance(exc, TimeLimitExceeded) and study_id:
            logger.error("Study %s: the analysis reached its hard time limit", study_id)
            _record_final_failure(study_id, state.ANALYSIS_TOO_LONG)


@shared_task(
    name=outbox.ANALYSE_STUDY_TASK,
    bind=True,
    base=_StudyTask,
    **ML_TASK,
    soft_time_limit=settings.ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=settings.ANALYSIS_TIME_LIMIT,
)
def analyse_study(self, study_id: str) -> None:
    try:
        run.analyse_study(study_id=study_id, rerun=False, resume=resumes(self.request))
    except SoftTimeLimitExceeded:
        logger.error("Study %s: the analysis reached its soft time limit", study_id)
        _record_final_failure(study_id, state.ANALYSIS_TOO_LONG)
    except OperationalError:
        if self.request.retries >= self.max_retries:
            logger.exception("Study %s: database errors persisted; giving up", study_id)
            _record_final_failure(study_id)
        raise


@shared_task(name=outbox.SWEEP_OUTBOX_TASK, ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Publish the studies the broker does not hold (studies.analysis.outbox); run by beat."""
    counts = outbox.sweep_outbox()
    if counts:
        logger.info("Outbox sweep: %s", counts)
    return counts


def resumes(request) -> bool:
    """This delivery may take over work left unfinished: a retry of this task, or a message
    the broker redelivered because the worker that had it died."""
    return bool(request.retries) or bool((request.delivery_info or {}).get("redelivered"))


def _record_final_failure(study_id: str, reason=None) -> None:
    """Mark the study failed unless a run has finished it meanwhile."""
    unfinished = Q(status__in=[Study.Status.QUEUED, Study.Status.PROCESSING])
    try:
        state.mark_failed(study_id=study_id, reason=reason, only_if=unfinished)
    except OperationalError:
        logger.exception("Study %s: could not record the failure either", study_id)
