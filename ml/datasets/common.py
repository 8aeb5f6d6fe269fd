"""What every data set reader shares: labelled image records, errors, and group splits."""

from __future__ import annotations

import csv
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml.dicom import read_radiograph
from ml.metadata import ModelMetadata
from ml.preprocessing import prepare

SPLIT_FRACTIONS = {"train": 70, "val": 15, "test": 15}  # percent of groups (patients, lesions)
SPLITS = tuple(SPLIT_FRACTIONS)


class DatasetError(ValueError):
    """The folder does not have the layout the reader expects."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int
    group: str  # the patient or lesion: all images of a group fall in one split


def split_of(group: str) -> str:
    """The split of a patient or lesion: a pure function of its id, so it is stable whatever
    subset of a data set is present, and no group is ever in two splits."""
    bucket = int(hashlib.sha256(group.encode()).hexdigest(), 16) % 100
    if bucket < SPLIT_FRACTIONS["train"]:
        return "train"
    if bucket < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["val"]:
        return "val"
    return "test"


def read_table(path: Path, columns: tuple[str, ...], what: str) -> list[dict]:
    """The rows of a CSV file that must have ``columns``; ``what`` names it in errors."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} is missing (expected {what})")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path} lacks the column(s): {', '.join(missing)}")
        return list(reader)


def check_split(split: str | None) -> None:
    if split is not None and split not in SPLIT_FRACTIONS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")


def open_image(path: Path) -> Image.Image:
    """An image file, or a DICOM radiograph (``.dcm``) as a greyscale image."""
    if Path(path).suffix.lower() == ".dcm":
        return Image.fromarray(read_radiograph(path), "L")
    return Image.open(path)


def load_images(paths: list[Path], metadata: ModelMetadata) -> np.ndarray:
    """The images at ``paths`` prepared as the model sees them (``preprocessing.prepare``),
    as uint8 NxHxWx3."""

    def load(path: Path) -> np.ndarray:
        with open_image(path) as image:
            return prepare(image, metadata)

    if not paths:
        return np.zeros((0, *metadata.input_size, 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return np.stack(list(pool.map(load, paths)))
