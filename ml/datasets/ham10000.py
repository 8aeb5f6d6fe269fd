"""HAM10000 in its published layout: ``images/<image_id>.jpg``, ``metadata.csv`` and, for
segmentation, ``masks/<image_id>_segmentation.png``.

Several images show the same lesion, so splits are made by ``lesion_id``: a lesion's images
all fall in one split. The split of a lesion is a pure function of its id (a hash), so it is
stable whatever subset of the data set is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml.datasets.common import DatasetError, LabelledImage, check_split, read_table, split_of

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
REQUIRED_COLUMNS = ("lesion_id", "image_id", "dx")


@dataclass(frozen=True)
class Record:
    image_id: str
    lesion_id: str
    dx: str

    @property
    def label(self) -> int:
        return CLASSES.index(self.dx)


def read_records(data_dir: Path, split: str | None = None) -> list[Record]:
    """The labelled images of ``data_dir`` (all of them, or one split's)."""
    data_dir = Path(data_dir)
    if not (data_dir / "images").is_dir():
        raise DatasetError(f"{data_dir / 'images'} is missing (expected images/<image_id>.jpg)")
    metadata = data_dir / "metadata.csv"
    records = []
    for row in read_table(metadata, REQUIRED_COLUMNS, "the HAM10000 metadata.csv"):
        if row["dx"] not in CLASSES:
            raise DatasetError(f"{metadata}: unknown dx {row['dx']!r} for {row['image_id']}")
        records.append(Record(row["image_id"], row["lesion_id"], row["dx"]))
    check_split(split)
    if split is not None:
        records = [r for r in records if split_of(r.lesion_id) == split]
    for record in records:
        if not image_path(data_dir, record.image_id).is_file():
            raise DatasetError(f"{image_path(data_dir, record.image_id)} is listed in "
                               f"metadata.csv but missing")
    return records


def image_path(data_dir: Path, image_id: str) -> Path:
    return Path(data_dir) / "images" / f"{image_id}.jpg"


def mask_path(data_dir: Path, image_id: str) -> Path:
    return Path(data_dir) / "masks" / f"{image_id}_segmentation.png"


def read_images(data_dir: Path, split: str | None = None) -> list[LabelledImage]:
    """The records as the training code's labelled images, grouped by lesion."""
    return [LabelledImage(image_path(data_dir, r.image_id), r.label, r.lesion_id)
            for r in read_records(data_dir, split)]


def load_mask(data_dir: Path, image_id: str) -> np.ndarray:
    """The lesion mask of one image as a bool array (the masks are smoothed: threshold 127)."""
    path = mask_path(data_dir, image_id)
    if not path.is_file():
        raise DatasetError(f"{path} is missing (expected masks/<image_id>_segmentation.png)")
    with Image.open(path) as mask:
        return np.asarray(mask.convert("L")) > 127
