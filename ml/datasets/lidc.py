"""LIDC-IDRI nodule sub-volumes: ``image/*.nii.gz`` in Hounsfield units, ``nodule_mask/``,
and ``labels.csv`` (voi_file, mask_file, patient_id, nodule_id, label_malignant, ...).

Splits are made by ``patient_id``: a patient's nodules all fall in one split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.datasets.common import DatasetError, LabelledImage, check_split, read_table, split_of
from ml.volumes import Volume

CLASSES = ("benign", "malignant")
REQUIRED_COLUMNS = ("voi_file", "patient_id", "label_malignant")


def read_images(data_dir: Path, split: str | None = None) -> list[LabelledImage]:
    data_dir = Path(data_dir)
    check_split(split)
    items = []
    for row in read_table(data_dir / "labels.csv", REQUIRED_COLUMNS, "the LIDC nodule labels.csv"):
        if split is not None and split_of(row["patient_id"]) != split:
            continue
        path = data_dir / row["voi_file"]
        if not path.is_file():
            raise DatasetError(f"{path} is listed in labels.csv but missing")
        items.append(LabelledImage(path, int(row["label_malignant"]), row["patient_id"]))
    return items


def read_volume(path: Path) -> Volume:
    """A NIfTI volume as (z, y, x) Hounsfield units with its spacing in mm."""
    import nibabel  # noqa: PLC0415  only training and evaluation read NIfTI: a serving worker never loads it

    image = nibabel.load(str(path))
    data = np.asarray(image.dataobj, dtype=np.float32)
    if data.ndim != 3:
        raise DatasetError(f"{path}: expected a 3D volume, found {data.ndim} dimensions")
    x_mm, y_mm, z_mm = (float(v) for v in image.header.get_zooms()[:3])
    return Volume(hu=np.ascontiguousarray(data.transpose(2, 1, 0)), spacing=(z_mm, y_mm, x_mm))
