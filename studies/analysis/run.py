"""One run of a study's analysis in the worker: start it (studies.analysis.state), run the
pre-read for the study's kind, store the outcome or record in plain words why there is none."""

from __future__ import annotations

import logging
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from lesions_project.errors import ApplicationError
from ml.series import SeriesError
from studies.analysis import state
from studies.analysis.ct import preread_ct
from studies.analysis.radiograph import preread_radiograph
from studies.analysis.skin import preread_skin_photo
from studies.models import Study
from studies.storage import delete_files, delete_unreferenced_artifacts

logger = logging.getLogger(__name__)

PREREADS = {
    Study.Kind.SKIN_PHOTO: preread_skin_photo,
    Study.Kind.CHEST_XRAY: preread_radiograph,
    Study.Kind.CT: preread_ct,
}
ANALYSABLE_KINDS = tuple(PREREADS)

MODEL_NOT_INSTALLED = _("The analysis model is not installed on this server; no result was produced.")
SERIES_UNREADABLE = _("The images of this study cannot be read as one complete series; no result was produced.")
KIND_NOT_SUPPORTED = _("This kind of study cannot be analysed yet.")


def analyse_study(*, study_id: uuid.UUID | str, rerun: bool = True, resume: bool = False) -> None:
    """Run the models on a study and store the result and artifacts.

    Safe to run again for the same study: the new result replaces the old one. Every
    outcome ends in `done` or `failed`, except database outages and the worker's soft time
    limit, which are re-raised for the task to retry or record.

    The worker passes ``rerun=False``: a study that is done or failed is then left alone (a
    duplicate or late task), and so is one that another run is processing, unless
    ``resume`` (the broker redelivered the task of a run that died, or this is a retry) or
    that run started too long ago to be alive. A run that takes over an interrupted one
    first deletes the files it left without rows, so one result and one set of artifacts
    remain; after ANALYSIS_MAX_ATTEMPTS runs the study fails instead.
    """
    study = Study.objects.prefetch_related("files").filter(id=study_id).first()
    if study is None:
        logger.info("Study %s no longer exists; nothing to analyse.", study_id)
        return
    if not state.start_run(study, rerun=rerun, resume=resume):
        return
    if study.status == Study.Status.PROCESSING:
        logger.warning("Study %s: taking over from an interrupted run", study.id)
        delete_unreferenced_artifacts(study.id)
    written: list[str] = []
    with translation.override(study.language):
        try:
            preread = PREREADS.get(study.kind)
            if preread is None:
                state.mark_failed(study_id=study.id, reason=KIND_NOT_SUPPORTED)
                return
            outcome = preread(study, progress=lambda stage: state.set_stage(study.id, stage), written=written)
            state.store_outcome(study, result=outcome.result, artifacts=outcome.artifacts, urgency=outcome.urgency,
                                status=outcome.status)
        except (OperationalError, SoftTimeLimitExceeded):
            delete_files(written)
            raise
        except state.StudyGone:
            delete_files(written)
            logger.info("Study %s was deleted during its analysis", study.id)
        except Exception as exc:  # noqa: BLE001  every failure ends the study failed, with a reason
            delete_files(written)
            state.mark_failed(study_id=study.id, reason=failure_reason(study, exc))


def failure_reason(study: Study, exc: Exception) -> str | Promise:
    """What to tell the user about ``exc``; unexpected errors are logged with their traceback."""
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, SeriesError):
        logger.warning("Study %s: %s", study.id, exc)
        return SERIES_UNREADABLE
    if _is_model_not_installed(exc):
        logger.error("Study %s: %s", study.id, exc)
        return MODEL_NOT_INSTALLED
    logger.error("Study %s: analysis failed", study.id, exc_info=exc)
    return state.ANALYSIS_FAILED


def _is_model_not_installed(exc: Exception) -> bool:
    try:
        import ml  # noqa: PLC0415  worker only: web processes never load torch
    except Exception:
        logger.exception("The ml package cannot be imported")
        return False
    return isinstance(exc, ml.ModelNotInstalled)
