"""The study's files in storage: deleting them, finding the ones no row refers to, and
local paths for code that reads files (the ML pipeline) whatever the storage is."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.db import models

from studies.models import Artifact, Study, StudyFile

logger = logging.getLogger(__name__)


def delete_files(names: list[str], *, study_id: uuid.UUID | None = None) -> None:
    storage = StudyFile.file.field.storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("Could not delete stored file %s", name)
    if study_id is not None:
        _remove_empty_study_folders(storage, study_id)


def referenced_files(study_id: uuid.UUID) -> set[str]:
    """Every stored file that a row belonging to the study refers to, whichever app's model
    holds it (the study's own files and artifacts, a radiology nodule's heatmap, ...)."""
    names: set[str] = set()
    for relation in Study._meta.related_objects:
        model = relation.related_model
        file_fields = [f.name for f in model._meta.get_fields() if isinstance(f, models.FileField)]
        if not file_fields or not relation.field.concrete:
            continue
        rows = model._default_manager.filter(**{relation.field.name: study_id}).values_list(*file_fields)
        names.update(name for row in rows for name in row if name)
    return names


def delete_unreferenced_artifacts(study_id: uuid.UUID) -> None:
    """Delete the files an interrupted run wrote under the study's artifacts folder before
    it could store their rows; files that rows refer to are kept."""
    storage = Artifact.file.field.storage
    folder = f"studies/{study_id}/artifacts"
    try:
        _folders, names = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    kept = referenced_files(study_id)
    orphans = [f"{folder}/{name}" for name in names if f"{folder}/{name}" not in kept]
    if orphans:
        logger.warning("Study %s: deleting %d file(s) an interrupted run left", study_id, len(orphans))
        delete_files(orphans)


@contextlib.contextmanager
def local_files(files: list[StudyFile]) -> Iterator[list[Path]]:
    """Paths of the stored files: the files themselves on local disk, temporary copies when
    the storage has no paths (S3)."""
    storage = StudyFile.file.field.storage
    try:
        yield [Path(storage.path(f.file.name)) for f in files]
        return
    except NotImplementedError:
        pass
    folder = Path(tempfile.mkdtemp(prefix="study-"))
    try:
        paths = []
        for index, study_file in enumerate(files):
            path = folder / f"{index:05d}.dcm"
            with study_file.file.open("rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
            paths.append(path)
        yield paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_empty_study_folders(storage, study_id: uuid.UUID) -> None:
    """Local disk keeps empty folders after their files are deleted; object stores have none."""
    try:
        root = Path(storage.path(f"studies/{study_id}"))
    except NotImplementedError:
        return
    for folder in (root / "upload", root / "artifacts", root):
        with contextlib.suppress(OSError):
            folder.rmdir()
