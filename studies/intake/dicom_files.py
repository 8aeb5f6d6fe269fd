"""Checks of uploaded DICOM files before anything is stored: is it DICOM, is it the kind of
image the study needs, does it have pixels that can be decoded. Each refusal says why in
plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

import pydicom
from django.utils.translation import gettext as _
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from lesions_project.errors import ApplicationError

RADIOGRAPH_MODALITIES = {"CR", "DX", "DR"}
CT_MODALITIES = {"CT"}

# Single-frame greyscale image storage SOP classes we read, by modality. Secondary Capture
# is accepted for radiographs: digitised films arrive that way.
IMAGE_SOP_CLASSES = {
    "CT": {"1.2.840.10008.5.1.4.1.1.2"},  # CT Image Storage
    "CR": {"1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.7"},
    "DX": {"1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1", "1.2.840.10008.5.1.4.1.1.7"},
    "DR": {"1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1", "1.2.840.10008.5.1.4.1.1.7"},
}




@dataclass(frozen=True)
class DicomInfo:
    modality: str
    sop_class_uid: str
    series_uid: str
    rows: int
    columns: int


def read_dicom(fileobj: IO[bytes]):
    """The pydicom dataset in ``fileobj``, or an ApplicationError saying why."""
    fileobj.seek(0)
    try:
        dataset = pydicom.dcmread(fileobj)
    except (InvalidDicomError, EOFError, ValueError, OSError, KeyError, TypeError):
        raise ApplicationError(_("This file is not a DICOM file we can read."), field="file") from None
    finally:
        fileobj.seek(0)
    return dataset


def check_dicom(dataset, *, modalities: set[str]) -> DicomInfo:
    """The facts the ingest needs, once the file is known to be an image of one of
    ``modalities`` whose pixels decode."""
    modality = str(dataset.get("Modality", "")).upper()
    if modality not in modalities:
        raise ApplicationError(_("This DICOM file is a %(found)s image, but a %(expected)s image "
                             "is needed here.") % {"found": modality or _("unknown"),
                                                   "expected": "/".join(sorted(modalities))},
                               field="file")
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class and sop_class not in IMAGE_SOP_CLASSES.get(modality, set()):
        raise ApplicationError(_("This DICOM file is not a single image of the kind needed (its SOP class is "
                             "%(sop_class)s).") % {"sop_class": _sop_class_name(sop_class)},
                               field="file")
    if "PixelData" not in dataset:
        raise ApplicationError(_("This DICOM file has no image in it (no pixel data)."), field="file")
    try:
        pixels = dataset.pixel_array
    except Exception:  # noqa: BLE001  the pixel handlers raise many types for broken or unsupported data
        raise ApplicationError(_("The image in this DICOM file cannot be decoded (damaged, or "
                             "compressed in a way we cannot read)."), field="file") from None
    if pixels.ndim != 2:
        raise ApplicationError(_("This DICOM file holds several frames or colour images; one "
                             "greyscale image per file is needed."), field="file")
    return DicomInfo(modality=modality, sop_class_uid=str(dataset.get("SOPClassUID", "")),
                     series_uid=str(dataset.get("SeriesInstanceUID", "")),
                     rows=int(pixels.shape[0]), columns=int(pixels.shape[1]))


def _sop_class_name(uid: str) -> str:
    name = UID(uid).name
    return name if name and name != uid else uid
