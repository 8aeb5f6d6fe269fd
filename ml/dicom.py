"""Reading CT series from DICOM files with pydicom: slices ordered along the slice normal,
spacing measured from the slice positions, pixels rescaled to Hounsfield units.

Problems that would silently distort a volume (several series mixed, a missing slice, one
slice only, a file without pixels) are refused with a message that says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from ml.series import SeriesError, order_slices
from ml.volumes import AIR_HU, Volume

__all__ = [
    "SeriesError",
    "SeriesLayout",
    "radiograph_image",
    "read_radiograph",
    "read_series",
    "read_series_layout",
    "read_slices",
]


@dataclass(frozen=True)
class SeriesLayout:
    """One series' slices in order along the slice normal, checked, before any pixel is
    decoded: enough to plan which slices a task needs."""

    paths: tuple[Path, ...]
    shape: tuple[int, int, int]  # (slices, rows, columns)
    spacing: tuple[float, float, float]  # mm (slice, row, column)


def read_series(files: list[Path]) -> Volume:
    """The volume of one CT series. Headers are read first (without pixels) to check and
    order the slices; pixels are then decoded one slice at a time straight into the volume,
    so a 300-slice series never exists twice in memory."""
    return read_slices(read_series_layout(files))


def read_series_layout(files: list[Path]) -> SeriesLayout:
    """Check and order the slices of one series from their headers alone."""
    headers = []
    for path in files:
        try:
            dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
        except Exception as error:  # noqa: BLE001  pydicom raises many types for a file that is not DICOM
            raise SeriesError(f"{Path(path).name} is not a readable DICOM file ({error})") from None
        headers.append((Path(path), dataset))
    order = order_slices([dataset for _, dataset in headers])
    rows, columns = order.shape
    row_mm, column_mm = (float(v) for v in headers[0][1].get("PixelSpacing", [1.0, 1.0]))
    return SeriesLayout(paths=tuple(headers[i][0] for i in order.order),
                        shape=(len(headers), rows, columns), spacing=(order.step, row_mm, column_mm))


def read_slices(layout: SeriesLayout, slices: range | None = None) -> Volume:
    """The slices ``slices`` (indices in the layout's order, step 1; by default all) as a
    volume. Only those files are decoded; indices past either end of the series are air, so
    a sub-volume around a point near the edge keeps its shape."""
    slices = range(layout.shape[0]) if slices is None else slices
    if slices.step != 1:
        raise ValueError("slices must be consecutive (a range with step 1)")
    hu = np.empty((len(slices), *layout.shape[1:]), dtype=np.float32)
    for index, position in enumerate(slices):
        if not 0 <= position < len(layout.paths):
            hu[index] = AIR_HU
            continue
        path = layout.paths[position]
        dataset = pydicom.dcmread(str(path))
        if "PixelData" not in dataset:
            raise SeriesError(f"{path.name} has no pixel data")
        hu[index] = _to_hu(dataset)
    return Volume(hu=hu, spacing=layout.spacing)


def _to_hu(dataset) -> np.ndarray:
    pixels = dataset.pixel_array.astype(np.float32)
    slope = float(dataset.get("RescaleSlope", 1.0))
    intercept = float(dataset.get("RescaleIntercept", 0.0))
    return pixels * slope + intercept


def read_series_folder(folder: Path) -> Volume:
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    if not files:
        raise SeriesError(f"{folder} holds no files")
    return read_series(files)


def read_radiograph(path: Path | BinaryIO) -> np.ndarray:
    """A projection radiograph (CR/DX) as a uint8 greyscale array for display and models:
    the modality and VOI transforms applied (LUT, or window centre/width), MONOCHROME1
    inverted so that bone is always bright. ``path`` may also be an open binary file."""
    name = _source_name(path)
    try:
        dataset = pydicom.dcmread(path if hasattr(path, "read") else str(path))
    except Exception as error:  # noqa: BLE001  (as in read_series_layout) every failure is an unreadable file
        raise SeriesError(f"{name} is not a readable DICOM file ({error})") from None
    if "PixelData" not in dataset:
        raise SeriesError(f"{name} has no pixel data")
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise SeriesError(f"{name}: expected one greyscale frame, found shape "
                          f"{pixels.shape}")
    values = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset).astype(np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 1.0 - scaled
    return (scaled * 255).round().astype(np.uint8)


def radiograph_image(path: Path | BinaryIO) -> Image.Image:
    """A CR/DX DICOM file as the greyscale (mode "L") display image the chest models read."""
    return Image.fromarray(read_radiograph(path), "L")


def _source_name(source) -> str:
    name = getattr(source, "name", None) if hasattr(source, "read") else source
    return Path(str(name)).name if name else "the upload"
