"""Reading CT series from DICOM files with pydicom: slices ordered along the slice normal,
spacing measured from the slice positions, pixels rescaled to Hounsfield units.

Problems that would silently distort a volume (several series mixed, a missing slice, one
slice only, a file without pixels) are refused with a message that says what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.volumes import Volume


class SeriesError(ValueError):
    """The files do not make one complete, regularly spaced series."""


def read_series(files: list[Path]) -> Volume:
    """The volume of one CT series. Headers are read first (without pixels) to check and
    order the slices; pixels are then decoded one slice at a time straight into the volume,
    so a 300-slice series never exists twice in memory."""
    import pydicom

    headers = []
    for path in files:
        try:
            dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
        except Exception as error:  # pydicom raises several types for a file that is not DICOM
            raise SeriesError(f"{Path(path).name} is not a readable DICOM file ({error})") from None
        headers.append((Path(path), dataset))
    if len(headers) < 2:
        raise SeriesError("a CT series needs at least two slices")
    series = {str(h.get("SeriesInstanceUID", "")) for _, h in headers}
    if len(series) > 1:
        raise SeriesError(f"the files belong to {len(series)} different series")
    for _, dataset in headers:
        if "ImagePositionPatient" not in dataset or "ImageOrientationPatient" not in dataset:
            raise SeriesError("a slice lacks ImagePositionPatient or ImageOrientationPatient")
    orientation = np.array(headers[0][1].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([np.dot(np.array(h.ImagePositionPatient, dtype=float), normal)
                          for _, h in headers])
    order = np.argsort(positions)
    positions = positions[order]
    gaps = np.diff(positions)
    if np.any(gaps <= 1e-3):
        raise SeriesError("two slices share one position (duplicates or mixed series)")
    step = float(np.median(gaps))
    if np.any(gaps > 1.5 * step):
        missing = int(np.sum(np.round(gaps / step) - 1))
        raise SeriesError(f"the series has a gap: about {missing} slice(s) missing")
    shapes = {(int(h.Rows), int(h.Columns)) for _, h in headers}
    if len(shapes) > 1:
        raise SeriesError("the slices differ in size")
    rows, columns = shapes.pop()
    hu = np.empty((len(headers), rows, columns), dtype=np.float32)
    for index, original in enumerate(order):
        path = headers[original][0]
        dataset = pydicom.dcmread(str(path))
        if "PixelData" not in dataset:
            raise SeriesError(f"{path.name} has no pixel data")
        hu[index] = _to_hu(dataset)
    row_mm, column_mm = (float(v) for v in headers[0][1].get("PixelSpacing", [1.0, 1.0]))
    return Volume(hu=hu, spacing=(step, row_mm, column_mm))


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


def read_radiograph(path: Path) -> np.ndarray:
    """A projection radiograph (CR/DX) as a uint8 greyscale array for display and models:
    the modality and VOI transforms applied (LUT, or window centre/width), MONOCHROME1
    inverted so that bone is always bright."""
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        dataset = pydicom.dcmread(str(path))
    except Exception as error:
        raise SeriesError(f"{Path(path).name} is not a readable DICOM file ({error})") from None
    if "PixelData" not in dataset:
        raise SeriesError(f"{Path(path).name} has no pixel data")
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise SeriesError(f"{Path(path).name}: expected one greyscale frame, found shape "
                          f"{pixels.shape}")
    values = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset).astype(np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 1.0 - scaled
    return (scaled * 255).round().astype(np.uint8)
