"""Radiologists' labels exported for training: a CSV and the studies' de-identified files.

Never the patient's name or ID: the CSV names studies by their id, and the files are the
stored (de-identified) copies under generated names, not the names they were uploaded with.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TextIO

from django.db.models import QuerySet

from radiology.models import Label
from studies.models import StudyFile

CSV_COLUMNS = ("study_id", "kind", "task", "label", "ai_label", "agreed", "signed_at", "radiologist", "files")


def labels_for_export() -> QuerySet[Label]:
    return (Label.objects.select_related("study", "report")
            .prefetch_related("study__files").order_by("created_at", "id"))


def labels_write_csv(labels: Iterable[Label], out: TextIO) -> int:
    """One row per label; `files` lists the paths the images get in an export folder."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for label in labels:
        writer.writerow([
            label.study_id, label.study.kind, label.task, label.value, label.ai_value,
            "true" if label.agreed else "false", label.report.signed_at.isoformat(),
            label.report.radiologist_name, ";".join(name for name, _file in exported_files(label)),
        ])
        count += 1
    return count


def exported_files(label: Label) -> list[tuple[str, StudyFile]]:
    """(path in the export folder, stored file) for each of the study's files, in order."""
    return [
        (f"images/{label.study_id}/{index:04d}{PurePosixPath(study_file.file.name).suffix}", study_file)
        for index, study_file in enumerate(label.study.files.all(), start=1)
    ]


def labels_export(*, out_dir: Path, labels: Iterable[Label] | None = None) -> int:
    """Write out_dir/labels.csv and copy each labelled study's files to out_dir/images/<id>/.
    Returns the number of labels written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = list(labels_for_export() if labels is None else labels)
    with (out_dir / "labels.csv").open("w", newline="", encoding="utf-8") as out:
        count = labels_write_csv(labels, out)
    copied: set[str] = set()
    for label in labels:
        for name, study_file in exported_files(label):
            if name in copied:  # a study with several labels
                continue
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with study_file.file.open("rb") as source, target.open("wb") as copy:
                shutil.copyfileobj(source, copy)
            copied.add(name)
    return count
