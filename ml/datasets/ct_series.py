"""Whole chest CT series labelled normal / pathology, in the Service4CT layout:
``training_data/<study_uid>/<series_uid>/*.dcm`` and ``training_data.csv`` with the columns
study_uid, series_uid, pathology (0 or 1). Splits are made by study.
"""

from __future__ import annotations

from pathlib import Path

from ml.datasets.common import DatasetError, LabelledImage, check_split, read_table, split_of

CLASSES = ("normal", "pathology")
REQUIRED_COLUMNS = ("study_uid", "series_uid", "pathology")


def read_images(data_dir: Path, split: str | None = None) -> list[LabelledImage]:
    data_dir = Path(data_dir)
    check_split(split)
    table = data_dir / "training_data.csv"
    items = []
    for row in read_table(table, REQUIRED_COLUMNS, "training_data.csv"):
        if split is not None and split_of(row["study_uid"]) != split:
            continue
        folder = data_dir / "training_data" / row["study_uid"] / row["series_uid"]
        if not folder.is_dir():
            raise DatasetError(f"{folder} is listed in training_data.csv but missing")
        if row["pathology"] not in {"0", "1"}:
            raise DatasetError(f"{table}: pathology must be 0 or 1, not {row['pathology']!r}")
        items.append(LabelledImage(folder, int(row["pathology"]), row["study_uid"]))
    return items
