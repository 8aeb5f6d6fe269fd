"""The analysis run's states and the only writes that move a study between them.

    queued --start_run--> processing --store_outcome--> done | not_assessable
                              |  \\--mark_failed--> failed
                              \\-- (worker died) -- the outbox or a redelivery starts it again

Every transition is one conditional UPDATE (or one transaction for the outcome), so two
runs of one study, a late duplicate task or overlapping sweeps never both win.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from studies.models import Artifact, Study, StudyResult
from studies.storage import delete_files

logger = logging.getLogger(__name__)

ANALYSIS_FAILED = _("Something went wrong while analysing this photo, and no result was produced. "
                    "Please try again later.")
ANALYSIS_INTERRUPTED = _("The analysis was interrupted several times and was given up; no result was produced.")
ANALYSIS_TOO_LONG = _("The analysis took longer than allowed and was stopped; no result was produced.")


class StudyGone(Exception):
    """The study was deleted while it was being analysed: nothing to record."""


def stuck_before(now: datetime) -> datetime:
    """A run that started before this cannot be alive: the hard time limit has passed."""
    return now - timedelta(seconds=settings.ANALYSIS_TIME_LIMIT + settings.STUCK_MARGIN_SECONDS)


def start_run(study: Study, *, rerun: bool, resume: bool) -> bool:
    """Mark the study processing for this run; False when this run must not go on."""
    now = timezone.now()
    runs = Study.objects.filter(id=study.id)
    if not rerun:
        interrupted = Q(status=Study.Status.PROCESSING)
        if not resume:
            interrupted &= Q(started_at__lt=stuck_before(now)) | Q(started_at__isnull=True)
        runs = runs.filter(Q(status=Study.Status.QUEUED) | interrupted)
        if study.status == Study.Status.PROCESSING and study.analysis_attempts >= settings.ANALYSIS_MAX_ATTEMPTS:
            if mark_failed(study_id=study.id, reason=ANALYSIS_INTERRUPTED, only_if=interrupted):
                logger.error("Study %s: %d runs did not finish; marked failed", study.id, study.analysis_attempts)
            return False
    started = runs.update(
        status=Study.Status.PROCESSING, stage=Study.Stage.LOADING, started_at=now, finished_at=None,
        failure_reason="", updated_at=now, analysis_attempts=F("analysis_attempts") + 1,
    )
    if not started:
        logger.info("Study %s is %s already; this task has nothing to do.", study.id, study.status)
    return bool(started)


def set_stage(study_id: uuid.UUID, stage: str) -> None:
    Study.objects.filter(id=study_id).update(stage=stage[:32], updated_at=timezone.now())


def mark_failed(*, study_id: uuid.UUID | str, reason: str | Promise | None = None,
                only_if: Q | None = None) -> bool:
    """Record a final failure with a reason in plain words (in the study's language); with
    ``only_if``, only while the study still matches it. True when recorded."""
    study = Study.objects.filter(id=study_id).only("language").first()
    if study is None:
        return False
    with translation.override(study.language):
        text = str(reason or ANALYSIS_FAILED)
    now = timezone.now()
    studies = Study.objects.filter(id=study_id)
    if only_if is not None:
        studies = studies.filter(only_if)
    return bool(studies.update(
        status=Study.Status.FAILED, stage="", failure_reason=text, finished_at=now, updated_at=now
    ))


def store_outcome(study: Study, *, result: StudyResult, artifacts: list[Artifact], urgency: int | None = None,
                  status: str = Study.Status.DONE) -> None:
    """Replace any earlier result and artifacts in one transaction and mark the study done
    (or not assessable, when the models' input gate refused the image).
    A signed report's PDF is kept: a re-run of the pre-read never changes a final report.
    Raises StudyGone when the study was deleted meanwhile."""
    with transaction.atomic():
        if not Study.objects.select_for_update().filter(id=study.id).exists():
            raise StudyGone(study.id)
        replaced_artifacts = Artifact.objects.filter(study=study).exclude(
            kind=Artifact.Kind.REPORT_PDF, study__report__isnull=False)
        replaced = list(replaced_artifacts.values_list("file", flat=True))
        replaced_artifacts.delete()
        StudyResult.objects.filter(study=study).delete()
        result.save()
        for artifact in artifacts:
            artifact.save()
        now = timezone.now()
        fields = {"urgency": urgency} if urgency is not None else {}
        Study.objects.filter(id=study.id).update(
            status=status, stage="", failure_reason="", finished_at=now, updated_at=now, **fields
        )
        transaction.on_commit(lambda: delete_files(replaced))
