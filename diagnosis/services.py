"""Writes for studies. One set of services serves the HTML views, the API and the worker."""
import hashlib
import logging
import uuid
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from diagnosis.imaging import InvalidImage, read_photo
from diagnosis.audit import Action, audit
from diagnosis.models import Artifact, Nodule, Study, StudyFile, StudyResult
from diagnosis.queueing import queue_analysis, queue_nodule_scoring, stuck_before
from ml.series import SeriesError

logger = logging.getLogger(__name__)

ANALYSABLE_KINDS = (Study.Kind.SKIN_PHOTO, Study.Kind.CHEST_XRAY, Study.Kind.CT)

MODEL_NOT_INSTALLED = _("The analysis model is not installed on this server; no result was produced.")
ANALYSIS_FAILED = _("Something went wrong while analysing this photo, and no result was produced. Please try again later.")
SERIES_UNREADABLE = _("The images of this study cannot be read as one complete series; no result was produced.")
KIND_NOT_SUPPORTED = _("This kind of study cannot be analysed yet.")
ANALYSIS_TOO_LONG = _("The analysis took longer than allowed and was stopped; no result was produced.")


def study_create(*, owner: User, kind: str, upload: UploadedFile, language: str) -> Study:
    """Check the photo, store it and queue its analysis once the rows are committed.

    Raises InvalidImage (nothing is stored) if the photo cannot be analysed.
    """
    if kind != Study.Kind.SKIN_PHOTO:
        raise ValueError("X-rays and CT are created by diagnosis.ingest.studies.")
    photo = read_photo(upload)
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    stored_name = ""
    try:
        with transaction.atomic():
            study = Study.objects.create(owner=owner, kind=kind, language=language)
            study_file = StudyFile(
                study=study,
                original_name=Path(upload.name or "photo").name[:255],
                content_type=photo.content_type,
                size=upload.size,
                sha256=_sha256(upload),
            )
            upload.seek(0)
            study_file.file.save(f"upload{photo.extension}", upload, save=False)
            stored_name = study_file.file.name
            study_file.save()
            transaction.on_commit(lambda: queue_analysis(study.id), robust=True)
    except BaseException:
        if stored_name:
            StudyFile.file.field.storage.delete(stored_name)
        raise
    return study


def study_analyse(*, study_id: uuid.UUID | str, rerun: bool = True, resume: bool = False) -> None:
    """Run the models on a study (diagnosis.preread) and store the result and artifacts.

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
    if not _start_run(study, rerun=rerun, resume=resume):
        return
    if study.status == Study.Status.PROCESSING:
        logger.warning("Study %s: taking over from an interrupted run", study.id)
        _delete_unreferenced_artifacts(study.id)
    written: list[str] = []
    try:
        import ml  # imported here so that web processes never load torch
    except Exception:
        logger.exception("Study %s: the ml package cannot be imported", study.id)
        study_mark_failed(study_id=study.id, reason=ANALYSIS_FAILED)
        return

    with translation.override(study.language):
        try:
            if study.kind not in ANALYSABLE_KINDS:
                raise _StudyFailure(KIND_NOT_SUPPORTED)
            outcome = _analyse(study, written=written)
            _store_outcome(study, result=outcome.result, artifacts=outcome.artifacts, urgency=outcome.urgency)
        except (OperationalError, SoftTimeLimitExceeded):
            delete_files(written)
            raise
        except Exception as exc:
            delete_files(written)
            study_mark_failed(study_id=study.id, reason=_failure_reason(study, exc, ml.ModelNotInstalled))


def study_mark_failed(*, study_id: uuid.UUID | str, reason: str | Promise | None = None,
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


def _start_run(study: Study, *, rerun: bool, resume: bool) -> bool:
    """Mark the study processing for this run; False when this run must not go on."""
    now = timezone.now()
    runs = Study.objects.filter(id=study.id)
    if not rerun:
        interrupted = Q(status=Study.Status.PROCESSING)
        if not resume:
            interrupted &= Q(started_at__lt=stuck_before(now)) | Q(started_at__isnull=True)
        runs = runs.filter(Q(status=Study.Status.QUEUED) | interrupted)
        if study.status == Study.Status.PROCESSING and study.analysis_attempts >= settings.ANALYSIS_MAX_ATTEMPTS:
            from diagnosis.queueing import ANALYSIS_INTERRUPTED

            if study_mark_failed(study_id=study.id, reason=ANALYSIS_INTERRUPTED, only_if=interrupted):
                logger.error("Study %s: %d runs did not finish; marked failed", study.id, study.analysis_attempts)
            return False
    started = runs.update(
        status=Study.Status.PROCESSING, stage=Study.Stage.LOADING, started_at=now, finished_at=None,
        failure_reason="", updated_at=now, analysis_attempts=F("analysis_attempts") + 1,
    )
    if not started:
        logger.info("Study %s is %s already; this task has nothing to do.", study.id, study.status)
    return bool(started)


def _delete_unreferenced_artifacts(study_id: uuid.UUID) -> None:
    """Delete the files an interrupted run wrote under the study's artifacts folder before
    it could store their rows (artifacts and nodule heatmaps with rows are kept)."""
    storage = Artifact.file.field.storage
    folder = f"studies/{study_id}/artifacts"
    try:
        _folders, names = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    kept = set(Artifact.objects.filter(study_id=study_id).values_list("file", flat=True))
    kept |= set(Nodule.objects.filter(study_id=study_id).exclude(heatmap="").values_list("heatmap", flat=True))
    orphans = [f"{folder}/{name}" for name in names if f"{folder}/{name}" not in kept]
    if orphans:
        logger.warning("Study %s: deleting %d file(s) an interrupted run left", study_id, len(orphans))
        delete_files(orphans)


def nodule_mark(*, user: User, study: Study, point: tuple[int, int, int]) -> Nodule:
    """A radiologist marks a point of the CT viewer's volume; the nodule model scores the
    sub-volume around it in the worker. Raises PermissionDenied or ValidationError."""
    if not (user.is_radiologist or user.is_platform_admin):
        raise PermissionDenied(_("Only radiologists mark nodules."))
    result = getattr(study, "result", None)
    if study.kind != Study.Kind.CT or study.status != Study.Status.DONE or result is None \
            or "volume" not in result.findings:
        raise ValidationError(_("Nodules can be marked once the CT volume has been built."))
    shown = result.findings["volume"]["shape"]
    if len(point) != 3 or any(not 0 <= int(v) < size for v, size in zip(point, shown)):
        raise ValidationError(_("The point is outside the volume."))
    from diagnosis.preread import viewer_to_original

    z, y, x = viewer_to_original(study, tuple(int(v) for v in point))
    with transaction.atomic():
        nodule = Nodule.objects.create(study=study, marked_by=user, z=z, y=y, x=x)
        audit(user, study.id, Action.MARKED, detail=f"nodule {nodule.id} at ({z}, {y}, {x})")
        transaction.on_commit(lambda: queue_nodule_scoring(nodule.id), robust=True)
    return nodule


def nodule_score(*, nodule_id: int) -> None:
    """Score a marked nodule (in the worker); a failure is recorded on the nodule. A nodule
    already scored is left alone (a duplicate or redelivered task)."""
    nodule = Nodule.objects.select_related("study").filter(id=nodule_id).first()
    if nodule is None or nodule.status == Nodule.Status.DONE:
        return
    import ml
    from diagnosis.preread import score_nodule

    with translation.override(nodule.study.language):
        try:
            score_nodule(nodule)
        except OperationalError:
            raise
        except Exception as exc:
            reason = str(_failure_reason(nodule.study, exc, ml.ModelNotInstalled))
            Nodule.objects.filter(id=nodule.id).update(status=Nodule.Status.FAILED, failure_reason=reason)


def nodule_mark_failed(*, nodule_id: int, reason: str | Promise) -> None:
    """Record that a nodule could not be scored (in its study's language), unless it was."""
    nodule = Nodule.objects.select_related("study").filter(id=nodule_id).first()
    if nodule is None:
        return
    with translation.override(nodule.study.language):
        text = str(reason)
    Nodule.objects.filter(id=nodule_id, status=Nodule.Status.QUEUED).update(
        status=Nodule.Status.FAILED, failure_reason=text)


def study_delete(*, study: Study) -> None:
    """Delete the study and, once that is committed, every file it has in storage."""
    names = [f.file.name for f in study.files.all()] + [a.file.name for a in study.artifacts.all()]
    names += [n.heatmap.name for n in study.nodules.all() if n.heatmap]
    study_id = study.id
    with transaction.atomic():
        study.delete()
        transaction.on_commit(lambda: delete_files(names, study_id=study_id))


class _StudyFailure(Exception):
    def __init__(self, reason: str | Promise) -> None:
        super().__init__(reason)
        self.reason = reason


def _failure_reason(study: Study, exc: Exception, model_not_installed: type[Exception]) -> str | Promise:
    """What to tell the user about `exc`; unexpected errors are logged with their traceback."""
    if isinstance(exc, _StudyFailure):
        return exc.reason
    if isinstance(exc, SoftTimeLimitExceeded):
        logger.error("Study %s: the analysis reached its soft time limit", study.id)
        return ANALYSIS_TOO_LONG
    if isinstance(exc, InvalidImage):
        return exc.message
    if isinstance(exc, SeriesError):
        logger.warning("Study %s: %s", study.id, exc)
        return SERIES_UNREADABLE
    if isinstance(exc, model_not_installed):
        logger.error("Study %s: %s", study.id, exc)
        return MODEL_NOT_INSTALLED
    logger.error("Study %s: analysis failed", study.id, exc_info=exc)
    return ANALYSIS_FAILED


def _set_stage(study_id: uuid.UUID, stage: str) -> None:
    Study.objects.filter(id=study_id).update(stage=stage[:32], updated_at=timezone.now())


def _analyse(study: Study, *, written: list[str]):
    from diagnosis import preread

    return preread.analyse(study, progress=lambda stage: _set_stage(study.id, stage), written=written)


def _store_outcome(study: Study, *, result: StudyResult, artifacts: list[Artifact], urgency: int | None = None) -> None:
    """Replace any earlier result and artifacts in one transaction and mark the study done.
    A signed report's PDF is kept: a re-run of the pre-read never changes a final report."""
    with transaction.atomic():
        if not Study.objects.select_for_update().filter(id=study.id).exists():
            raise _StudyGone()
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
            status=Study.Status.DONE, stage="", failure_reason="", finished_at=now, updated_at=now, **fields
        )
        transaction.on_commit(lambda: delete_files(replaced))


class _StudyGone(_StudyFailure):
    """The study was deleted while it was being analysed: nothing to record."""

    def __init__(self) -> None:
        super().__init__(ANALYSIS_FAILED)


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def delete_files(names: list[str], *, study_id: uuid.UUID | None = None) -> None:
    storage = StudyFile.file.field.storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("Could not delete stored file %s", name)
    if study_id is not None:
        _remove_empty_study_folders(storage, study_id)


def _remove_empty_study_folders(storage, study_id: uuid.UUID) -> None:
    """Local disk keeps empty folders after their files are deleted; object stores have none."""
    try:
        root = Path(storage.path(f"studies/{study_id}"))
    except NotImplementedError:
        return
    for folder in (root / "upload", root / "artifacts", root):
        try:
            folder.rmdir()
        except OSError:
            pass
