"""Celery task of radiology: a marked nodule's score, on the `ml` queue (settings, "# Celery")."""
import logging

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from django.conf import settings
from django.db import OperationalError

from radiology import nodules
from studies.analysis.state import ANALYSIS_TOO_LONG
from studies.analysis.tasks import ML_TASK

logger = logging.getLogger(__name__)


class _NoduleTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        nodule_id = args[0] if args else (kwargs or {}).get("nodule_id")
        if isinstance(exc, TimeLimitExceeded) and nodule_id:
            logger.error("Nodule %s: the scoring reached its hard time limit", nodule_id)
            try:
                nodules.nodule_mark_failed(nodule_id=nodule_id, reason=ANALYSIS_TOO_LONG)
            except OperationalError:
                logger.exception("Nodule %s: could not record the failure either", nodule_id)


@shared_task(
    name=nodules.SCORE_NODULE_TASK,
    base=_NoduleTask,
    **ML_TASK,
    soft_time_limit=settings.NODULE_SOFT_TIME_LIMIT,
    time_limit=settings.NODULE_TIME_LIMIT,
)
def score_nodule(nodule_id: int) -> None:
    nodules.score_nodule(nodule_id=nodule_id)
