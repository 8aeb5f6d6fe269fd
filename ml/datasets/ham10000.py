"""HAM10000 in its published layout: ``images/<image_id>.jpg``, ``metadata.csv`` and, for
segmentation, ``masks/<image_id>_segmentation.png``.

Several images show the same lesion, so splits are made by ``lesion_id``: a lesion's images
all fall in one split. The split of a lesion is a pure function of its id (a hash), so it is
stable whatever subset of the data set is present.
"""

from __future__ import annotations

import csv
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml.preprocessing import resize_rgb

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
REQUIRED_COLUMNS = ("lesion_id", "image_id", "dx")
SPLIT_FRACTIONS = {"train": 70, "val": 15, "test": 15}  # percent of lesions


class DatasetError(ValueError):
    """The folder does not have the layout the loader expects."""


@dataclass(frozen=True)
class Record:
    image_id: str
    lesion_id: str
    dx: str

    @property
    def label(self) -> int:
        return CLASSES.index(self.dx)


def split_of(lesion_id: str) -> str:
    bucket = int(hashlib.sha256(lesion_id.encode()).hexdigest(), 16) % 100
    if bucket < SPLIT_FRACTIONS["train"]:
        return "train"
    if bucket < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["val"]:
        return "val"
    return "test"


def read_records(data_dir: Path, split: str | None = None) -> list[Record]:
    """The labelled images of ``data_dir`` (all of them, or one split's)."""
    data_dir = Path(data_dir)
    metadata = data_dir / "metadata.csv"
    if not metadata.is_file():
        raise DatasetError(f"{metadata} is missing (expected the HAM10000 metadata.csv)")
    if not (data_dir / "images").is_dir():
        raise DatasetError(f"{data_dir / 'images'} is missing (expected images/<image_id>.jpg)")
    with metadata.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{metadata} lacks the column(s): {', '.join(missing)}")
        records = []
        for row in reader:
            if row["dx"] not in CLASSES:
                raise DatasetError(f"{metadata}: unknown dx {row['dx']!r} for {row['image_id']}")
            records.append(Record(row["image_id"], row["lesion_id"], row["dx"]))
    if split is not None:
        if split not in SPLIT_FRACTIONS:
            raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLIT_FRACTIONS)}")
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


def load_images(data_dir: Path, records: list[Record], size_hw) -> np.ndarray:
    """All images of ``records`` resized to ``size_hw``, as uint8 NxHxWx3."""

    def load(record: Record) -> np.ndarray:
        with Image.open(image_path(data_dir, record.image_id)) as image:
            return resize_rgb(image, size_hw)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return np.stack(list(pool.map(load, records)))


def load_mask(data_dir: Path, image_id: str) -> np.ndarray:
    """The lesion mask of one image as a bool array (the masks are smoothed: threshold 127)."""
    path = mask_path(data_dir, image_id)
    if not path.is_file():
        raise DatasetError(f"{path} is missing (expected masks/<image_id>_segmentation.png)")
    with Image.open(path) as mask:
        return np.asarray(mask.convert("L")) > 127
