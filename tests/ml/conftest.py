"""Tiny data sets in the real layouts, drawn by the tests themselves."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml.datasets.ham10000 import CLASSES, split_of

CLASS_COLOURS = {
    "akiec": (170, 60, 60), "bcc": (200, 120, 160), "bkl": (120, 90, 50), "df": (150, 110, 90),
    "mel": (40, 25, 20), "nv": (100, 60, 40), "vasc": (180, 30, 60),
}


def make_ham_folder(root: Path, lesions_per_class: int = 4, size=(40, 30)) -> Path:
    """A HAM10000-layout folder: images/, masks/ and metadata.csv, one ellipse per image."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for dx in CLASSES:
        for n in range(lesions_per_class):
            lesion_id = f"HAM_{dx}_{n:03d}"
            for view in range(2):
                image_id = f"ISIC_{dx}_{n:03d}_{view}"
                width, height = size
                box = [int(width * rng.uniform(0.1, 0.3)), int(height * rng.uniform(0.1, 0.3)),
                       int(width * rng.uniform(0.7, 0.9)), int(height * rng.uniform(0.7, 0.9))]
                image = Image.new("RGB", size, (225, 180, 160))
                ImageDraw.Draw(image).ellipse(box, fill=CLASS_COLOURS[dx])
                image.save(root / "images" / f"{image_id}.jpg", quality=95)
                mask = Image.new("L", size, 0)
                ImageDraw.Draw(mask).ellipse(box, fill=255)
                mask.save(root / "masks" / f"{image_id}_segmentation.png")
                rows.append([lesion_id, image_id, dx, "histo", "50.0", "male", "back"])
    with (root / "metadata.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"])
        writer.writerows(rows)
    assert {split_of(r[0]) for r in rows} == {"train", "val", "test"}
    return root


@pytest.fixture
def ham_folder(tmp_path) -> Path:
    return make_ham_folder(tmp_path / "ham")


def make_chest_xray_folder(root: Path, patients: int = 12) -> Path:
    """A chest X-ray split folder: NORMAL/ and PNEUMONIA/ with Kermany-style file names."""
    rng = np.random.default_rng(0)
    (root / "NORMAL").mkdir(parents=True)
    (root / "PNEUMONIA").mkdir()
    for n in range(patients):
        for view in range(2):
            lungs = rng.integers(20, 60, (32, 32), dtype=np.uint8)
            Image.fromarray(lungs, "L").save(root / "NORMAL" / f"IM-{n:04d}-{view + 1:04d}.jpeg")
            cloudy = np.clip(lungs.astype(int) + 120, 0, 255).astype(np.uint8)
            kind = "bacteria" if n % 2 else "virus"
            Image.fromarray(cloudy, "L").save(
                root / "PNEUMONIA" / f"person{n}_{kind}_{view}.jpeg")
    return root


@pytest.fixture
def chest_folder(tmp_path) -> Path:
    return make_chest_xray_folder(tmp_path / "chest_xray")


def make_lidc_folder(root: Path, patients: int = 16) -> Path:
    """LIDC-layout nodule sub-volumes (NIfTI, HU) with labels.csv: malignant nodules are
    drawn larger and denser than benign ones."""
    import nibabel

    rng = np.random.default_rng(0)
    (root / "image").mkdir(parents=True)
    (root / "nodule_mask").mkdir()
    rows = []
    for n in range(patients):
        for nodule in range(2):
            malignant = (n + nodule) % 2
            shape = (24, 24, 6)  # x, y, z as stored in NIfTI
            hu = rng.normal(-850, 30, shape).astype(np.float32)
            x, y, z = np.ogrid[:24, :24, :6]
            radius = 7 if malignant else 3
            inside = (x - 12) ** 2 + (y - 12) ** 2 + ((z - 3) * 2.5) ** 2 <= radius ** 2
            hu[inside] = 40.0
            affine = np.diag([0.8, 0.8, 2.5, 1.0])
            name = f"LIDC-IDRI-{n:04d}_R_{nodule}.nii.gz"
            nibabel.Nifti1Image(hu, affine).to_filename(root / "image" / name)
            nibabel.Nifti1Image(inside.astype(np.uint8), affine).to_filename(
                root / "nodule_mask" / name)
            rows.append([f"image/{name}", f"nodule_mask/{name}", f"LIDC-IDRI-{n:04d}", nodule,
                         "Malign" if malignant else "Benign", malignant, 4 if malignant else 2,
                         radius * 2 * 0.8])
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["voi_file", "mask_file", "patient_id", "nodule_id", "Diagnosis",
                         "label_malignant", "Malignancy_value", "diameter_mm"])
        writer.writerows(rows)
    return root


@pytest.fixture
def lidc_folder(tmp_path) -> Path:
    return make_lidc_folder(tmp_path / "lidc")
