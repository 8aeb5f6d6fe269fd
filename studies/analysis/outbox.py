"""Handing work to the broker, and the outbox that makes sure no study is lost on the way.

A study is committed first and its task published afterwards (``transaction.on_commit``);
``Study.queued_at`` records the publish. When the broker is down the upload still succeeds:
the study waits, ``queued_at`` empty, and ``sweep_outbox`` (a periodic task of the light
worker) publishes it once the broker is back. The sweep also publishes again the studies
whose task the broker lost (still waiting long after their publish) and those left
processing by a worker that died without the broker redelivering its task. Publishing
twice is harmless: the worker analyses a study once (``studies.analysis.run``).

The sweep claims each study with a conditional UPDATE before publishing it, so sweeps that
overlap (two beats by mistake, a slow sweep) never publish the same study twice.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from studies.analysis.state import ANALYSIS_INTERRUPTED, mark_failed, stuck_before
from studies.models import Study

logger = logging.getLogger(__name__)

# What publishing raises when the broker cannot be reached (kombu wraps the transport's
# connection errors in its OperationalError; OSError covers a socket failing on its own).
PUBLISH_ERRORS = (BrokerUnavailable, OSError)

# Tasks are published by name (routes: settings.CELERY_TASK_ROUTES), so that publishing
# needs no import of the task modules (which import the run, which imports this module).
ANALYSE_STUDY_TASK = "studies.analyse_study"
SWEEP_OUTBOX_TASK = "studies.sweep_outbox"

# Studies one sweep looks at, oldest first; the next sweep takes the rest.
SWEEP_BATCH = 200


def queue_analysis(study_id: uuid.UUID | str) -> bool:
    """Publish the study's analysis and record it; False (logged) when the broker cannot be
    reached, in which case the study waits for the outbox sweep."""
    if not _publish_analysis(study_id):
        return False
    Study.objects.filter(id=study_id).update(queued_at=timezone.now())
    return True


def sweep_outbox() -> dict[str, int]:
    """Publish the studies the broker does not hold; returns counts by reason.

    - ``unpublished``: waiting, never handed to the broker (it was down at upload time);
    - ``lost``: waiting more than OUTBOX_REPUBLISH_SECONDS after their publish;
    - ``stuck``: processing since before the hard time limit plus a margin, not published
      since (their worker died and the broker did not redeliver); those that have used
      their ANALYSIS_MAX_ATTEMPTS runs are failed instead (``given_up``).
    Stops at the first publish that fails (``broker_down``): the next sweep tries again.
    """
    now = timezone.now()
    grace = now - timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    republish = now - timedelta(seconds=settings.OUTBOX_REPUBLISH_SECONDS)
    stuck = stuck_before(now)
    unpublished = Q(status=Study.Status.QUEUED, queued_at__isnull=True, created_at__lt=grace)
    lost = Q(status=Study.Status.QUEUED, queued_at__lt=republish)
    stalled = Q(status=Study.Status.PROCESSING, started_at__lt=stuck) & (
        Q(queued_at__isnull=True) | Q(queued_at__lt=stuck))
    counts: Counter[str] = Counter()
    candidates = (Study.objects.filter(unpublished | lost | stalled).order_by("created_at")
                  .values_list("id", "status", "queued_at", "analysis_attempts")[:SWEEP_BATCH])
    for study_id, status, queued_at, attempts in candidates:
        if status == Study.Status.PROCESSING and attempts >= settings.ANALYSIS_MAX_ATTEMPTS:
            if mark_failed(study_id=study_id, reason=ANALYSIS_INTERRUPTED, only_if=stalled):
                logger.error("Study %s: %d runs did not finish; marked failed", study_id, attempts)
                counts["given_up"] += 1
            continue
        # The claim: only the sweep whose UPDATE still finds the study as it was read goes on.
        claimed = Study.objects.filter(unpublished | lost | stalled, id=study_id, queued_at=queued_at).update(
            queued_at=now)
        if not claimed:
            continue
        if not _publish_analysis(study_id):
            Study.objects.filter(id=study_id, queued_at=now).update(queued_at=queued_at)
            counts["broker_down"] += 1
            break
        reason = "stuck" if status == Study.Status.PROCESSING else "lost" if queued_at else "unpublished"
        logger.warning("Study %s (%s): published again by the outbox sweep", study_id, reason)
        counts[reason] += 1
    return dict(counts)


def send(task_name: str, *args) -> None:
    """Publish a task by name; raises one of PUBLISH_ERRORS when the broker is down."""
    current_app.send_task(task_name, args=args)


def _publish_analysis(study_id: uuid.UUID | str) -> bool:
    try:
        send(ANALYSE_STUDY_TASK, str(study_id))
    except PUBLISH_ERRORS:
        logger.warning("Study %s: the broker cannot be reached; the outbox sweep will publish it",
                       study_id, exc_info=True)
        return False
    return True
