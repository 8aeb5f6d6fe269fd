"""Celery tasks: thin wrappers that hand a study id to a service."""
import logging

from celery import shared_task
from django.db import OperationalError

from diagnosis import services

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def analyse_study(self, study_id: str) -> None:
    try:
        services.study_analyse(study_id=study_id)
    except OperationalError:
        if self.request.retries >= self.max_retries:
            logger.exception("Study %s: database errors persisted; giving up", study_id)
            _record_final_failure(study_id)
        raise


def _record_final_failure(study_id: str) -> None:
    try:
        services.study_mark_failed(study_id=study_id)
    except OperationalError:
        logger.exception("Study %s: could not record the failure either", study_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def score_nodule(nodule_id: int) -> None:
    services.nodule_score(nodule_id=nodule_id)
