"""The RSNA Pneumonia Detection Challenge layout: ``images/<patientId>.dcm``,
``detailed_class_info*.csv`` (patientId, class: Lung Opacity / No Lung Opacity / Not Normal /
Normal) and ``labels.csv`` (patientId, x, y, width, height, Target: one row per opacity box).
One radiograph per patient, so a split by patient is a split by image.
"""

from __future__ import annotations

from pathlib import Path

from ml.datasets.common import DatasetError, LabelledImage, check_split, read_table, split_of

CLASSES = ("Normal", "No Lung Opacity / Not Normal", "Lung Opacity")


def _table(data_dir: Path, pattern: str, columns: tuple[str, ...]) -> list[dict]:
    matches = sorted(Path(data_dir).glob(pattern))
    if not matches:
        raise DatasetError(f"{data_dir} has no {pattern}")
    return read_table(matches[0], columns, pattern)


def image_path(data_dir: Path, patient_id: str) -> Path:
    return Path(data_dir) / "images" / f"{patient_id}.dcm"


def read_images(data_dir: Path, split: str | None = None) -> list[LabelledImage]:
    check_split(split)
    items = {}
    for row in _table(data_dir, "detailed_class_info*.csv", ("patientId", "class")):
        patient = row["patientId"]
        if row["class"] not in CLASSES:
            raise DatasetError(f"unknown class {row['class']!r} for {patient}")
        if split is not None and split_of(patient) != split:
            continue
        path = image_path(data_dir, patient)
        if not path.is_file():
            raise DatasetError(f"{path} is listed but missing")
        items[patient] = LabelledImage(path, CLASSES.index(row["class"]), patient)
    return list(items.values())


def read_boxes(data_dir: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """Opacity boxes (x, y, width, height in pixels) by patient; patients without any have
    an empty list."""
    boxes: dict[str, list] = {}
    for row in _table(data_dir, "labels.csv", ("patientId", "x", "y", "width", "height", "Target")):
        entry = boxes.setdefault(row["patientId"], [])
        if row["Target"] == "1":
            entry.append(tuple(float(row[k]) for k in ("x", "y", "width", "height")))
    return boxes
