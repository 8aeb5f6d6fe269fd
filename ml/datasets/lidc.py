"""LIDC-IDRI nodule sub-volumes: ``image/*.nii.gz`` in Hounsfield units, ``nodule_mask/``,
and ``labels.csv`` (voi_file, mask_file, patient_id, nodule_id, label_malignant, ...).

Splits are made by ``patient_id``: a patient's nodules all fall in one split.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ml.datasets.common import DatasetError, LabelledImage, check_split, split_of
from ml.volumes import Volume

CLASSES = ("benign", "malignant")
REQUIRED_COLUMNS = ("voi_file", "patient_id", "label_malignant")


def read_images(data_dir: Path, split: str | None = None) -> list[LabelledImage]:
    data_dir = Path(data_dir)
    labels = data_dir / "labels.csv"
    if not labels.is_file():
        raise DatasetError(f"{labels} is missing (expected the LIDC nodule labels.csv)")
    check_split(split)
    with labels.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{labels} lacks the column(s): {', '.join(missing)}")
        items = []
        for row in reader:
            if split is not None and split_of(row["patient_id"]) != split:
                continue
            path = data_dir / row["voi_file"]
            if not path.is_file():
                raise DatasetError(f"{path} is listed in labels.csv but missing")
            items.append(LabelledImage(path, int(row["label_malignant"]), row["patient_id"]))
    return items


def read_volume(path: Path) -> Volume:
    """A NIfTI volume as (z, y, x) Hounsfield units with its spacing in mm."""
    import nibabel

    image = nibabel.load(str(path))
    data = np.asarray(image.dataobj, dtype=np.float32)
    if data.ndim != 3:
        raise DatasetError(f"{path}: expected a 3D volume, found {data.ndim} dimensions")
    x_mm, y_mm, z_mm = (float(v) for v in image.header.get_zooms()[:3])
    return Volume(hu=np.ascontiguousarray(data.transpose(2, 1, 0)), spacing=(z_mm, y_mm, x_mm))
