"""DICOM files written by the tests themselves with pydicom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from tests.ml.model_fixtures import new_dataset, write_ct_series  # noqa: F401  (shared with the benchmarks)


def write_radiograph(path: Path, pixels: np.ndarray, *, photometric: str = "MONOCHROME2",
                     modality: str = "CR", patient_id: str = "TEST-0001") -> Path:
    """One uncompressed projection radiograph of uint8 ``pixels``."""
    from pydicom.uid import ComputedRadiographyImageStorage

    path.parent.mkdir(parents=True, exist_ok=True)
    ds = new_dataset(ComputedRadiographyImageStorage, modality, patient_id)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.ViewPosition = "PA"
    ds.Rows, ds.Columns = pixels.shape
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
