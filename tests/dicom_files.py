"""DICOM files written by the tests themselves with pydicom."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def new_dataset(sop_class: str, modality: str, patient_id: str = "TEST-0001") -> Dataset:
    """An image dataset with its file meta, UIDs and a test patient, ready for pixels."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Patient", patient_id
    ds.SamplesPerPixel = 1
    return ds


def write_ct_series(folder: Path, hu: np.ndarray, *, spacing=(2.5, 0.7, 0.7), shuffle=True,
                    study_uid: str | None = None, series_uid: str | None = None,
                    skip: set[int] = frozenset(), seed: int = 0) -> list[Path]:
    """One axial CT series of ``hu`` (z, y, x), one file per slice, stored with the rescale
    intercept -1024 as scanners do; written in shuffled order by default."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    indices = [i for i in range(hu.shape[0]) if i not in skip]
    if shuffle:
        random.Random(seed).shuffle(indices)
    paths = []
    for order, index in enumerate(indices):
        ds = new_dataset(CTImageStorage, "CT")
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.InstanceNumber = order + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(index * spacing[0])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = np.clip(hu[index] + 1024, 0, 65535).astype(np.uint16).tobytes()
        path = folder / f"slice_{order:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


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
