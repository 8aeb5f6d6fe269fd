"""Pictures of a CT volume for people: the three orthogonal planes and a mid-lung montage.

Coronal and sagittal planes are stretched along z by the slice spacing, so that anatomy keeps
its proportions whatever the slice thickness.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from ml.volumes import Volume

# Window presets: (width, level) in Hounsfield units.
WINDOWS = {"lung": (1500, -600), "mediastinum": (350, 50), "bone": (2000, 500)}


def windowed(hu: np.ndarray, preset: str = "lung") -> np.ndarray:
    width, level = WINDOWS[preset]
    low = level - width / 2
    return (np.clip((hu - low) / width, 0, 1) * 255).round().astype(np.uint8)


def orthogonal_previews(volume: Volume, preset: str = "lung") -> dict[str, Image.Image]:
    """Axial, coronal and sagittal planes through the centre of the volume."""
    depth, rows, columns = volume.hu.shape
    z_mm, row_mm, column_mm = volume.spacing
    axial = Image.fromarray(windowed(volume.hu[depth // 2], preset))
    coronal = Image.fromarray(windowed(volume.hu[::-1, rows // 2, :], preset))
    sagittal = Image.fromarray(windowed(volume.hu[::-1, :, columns // 2], preset))
    height_coronal = max(1, round(depth * z_mm / column_mm))
    height_sagittal = max(1, round(depth * z_mm / row_mm))
    return {
        "axial": axial,
        "coronal": coronal.resize((columns, height_coronal), Image.Resampling.BILINEAR),
        "sagittal": sagittal.resize((rows, height_sagittal), Image.Resampling.BILINEAR),
    }


def montage(volume: Volume, *, rows: int = 3, columns: int = 4, preset: str = "lung",
            middle: float = 0.6, tile: int = 256) -> Image.Image:
    """``rows`` x ``columns`` axial slices spread evenly over the middle part of the volume
    (where the lungs are on a chest CT), each shrunk to ``tile`` pixels."""
    depth = volume.hu.shape[0]
    start, stop = depth * (1 - middle) / 2, depth * (1 + middle) / 2
    indices = np.linspace(start, stop - 1, rows * columns).round().astype(int).clip(0, depth - 1)
    sheet = Image.new("L", (columns * tile, rows * tile))
    for position, index in enumerate(indices):
        picture = Image.fromarray(windowed(volume.hu[index], preset))
        picture.thumbnail((tile, tile), Image.Resampling.BILINEAR)
        row, column = divmod(position, columns)
        sheet.paste(picture, (column * tile, row * tile))
    return sheet


def viewer_volume(volume: Volume, *, max_size: int = 256,
                  max_slices: int = 400) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A light copy of the volume for scrolling in a browser: int16 HU, each slice
    area-averaged so that rows and columns are at most ``max_size``, and pairs of slices
    averaged when there are more than ``max_slices``. Returns the array and its spacing (mm).

    Built slice by slice, so it never holds more than the result and two slices."""
    depth, rows, columns = volume.hu.shape
    scale = min(1.0, max_size / max(rows, columns))
    height, width = max(1, round(rows * scale)), max(1, round(columns * scale))
    step = 2 if depth > max_slices else 1
    out = np.empty((-(-depth // step), height, width), dtype=np.int16)
    for index, first in enumerate(range(0, depth, step)):
        group = volume.hu[first:first + step]
        plane = group[0] if len(group) == 1 else group.mean(axis=0, dtype=np.float32)
        if (height, width) != (rows, columns):
            plane = cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA)
        out[index] = np.clip(np.rint(plane), -32768, 32767)
    z_mm, row_mm, column_mm = volume.spacing
    return out, (z_mm * step, row_mm * rows / height, column_mm * columns / width)
