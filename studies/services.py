"""Writes for studies: a patient's photo becomes a study, a study is deleted. One set of
services serves the HTML views, the API and the admin; X-rays and CT come in through
studies.intake.scans, and the worker's run is studies.analysis.run."""

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import User
from studies.analysis.outbox import queue_analysis
from studies.intake.photos import read_photo
from studies.models import Study, StudyFile
from studies.storage import delete_files, referenced_files


def study_create(*, owner: User, kind: str, upload: UploadedFile, language: str) -> Study:
    """Check the photo, store it and queue its analysis once the rows are committed.

    Raises ApplicationError (nothing is stored) if the photo cannot be analysed.
    """
    if kind != Study.Kind.SKIN_PHOTO:
        raise ValueError("X-rays and CT are created by studies.intake.scans.")
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


def study_delete(*, study: Study) -> None:
    """Delete the study and, once that is committed, every file its rows refer to."""
    names = sorted(referenced_files(study.id))
    study_id = study.id
    with transaction.atomic():
        study.delete()
        transaction.on_commit(lambda: delete_files(names, study_id=study_id))


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()
