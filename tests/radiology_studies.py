"""Radiology studies made directly in the database, as the pre-read would leave them
(a StudyResult and preview artifacts), so review tests need no worker and no models."""
from __future__ import annotations

import datetime
import io

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from accounts.models import User
from studies.models import Artifact, Study, StudyFile, StudyResult


def png_bytes(size: tuple[int, int] = (96, 96), mode: str = "L", background: int = 40) -> bytes:
    image = Image.new(mode, size, background)
    ImageDraw.Draw(image).ellipse([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=200)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (96, 96)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_xray(owner: User, *, pneumonia: float = 0.91, urgency: int = Study.Urgency.URGENT,
              patient_name: str = "Jane Roe", patient_identifier: str = "PID-0001", with_files: bool = True,
              **fields) -> Study:
    study = Study.objects.create(
        owner=owner, kind=Study.Kind.CHEST_XRAY, status=Study.Status.DONE, review=Study.Review.AWAITING,
        patient_name=patient_name, patient_identifier=patient_identifier, patient_age="054Y", patient_sex="F",
        modality="CR", description="Chest PA", study_date=datetime.date(2026, 3, 14), image_count=1,
        urgency=urgency, language="en", **fields,
    )
    StudyResult.objects.create(
        study=study, top_class="pneumonia" if pneumonia >= 0.5 else "normal",
        probabilities={"normal": 1 - pneumonia, "pneumonia": pneumonia},
        models=[{"name": "pneumonia", "version": "1.0.0"}, {"name": "pneumonia-type", "version": "1.0.0"}],
        findings={
            "pneumonia": {"probability": pneumonia, "threshold": 0.578, "positive": pneumonia >= 0.578},
            "pneumonia_type": {"normal": 0.1, "bacterial": 0.7, "viral": 0.2},
            "opacity": None, "boxes": None,
            "not_installed": ["lung-opacity", "lung-opacity-boxes"],
            "image_size": [96, 96], "timings": {"classification": 0.01},
        },
    )
    if with_files:
        _add_file(study, f"{patient_name.replace(' ', '_')}.png", png_bytes(), "image/png")
        _add_artifact(study, Artifact.Kind.IMAGE, "image.png", png_bytes())
        _add_artifact(study, Artifact.Kind.HEATMAP, "heatmap.jpg", jpeg_bytes())
    return study


def make_ct(owner: User, *, urgency: int = Study.Urgency.NOT_ASSESSED, patient_name: str = "John Doe",
            patient_identifier: str = "PID-0002", with_files: bool = True, **fields) -> Study:
    """A CT whose pathology model was not installed: previews but no AI finding."""
    study = Study.objects.create(
        owner=owner, kind=Study.Kind.CT, status=Study.Status.DONE, review=Study.Review.AWAITING,
        patient_name=patient_name, patient_identifier=patient_identifier, patient_age="067Y", patient_sex="M",
        modality="CT", description="Chest low dose", study_date=datetime.date(2026, 3, 15), image_count=3,
        urgency=urgency, language="en", **fields,
    )
    StudyResult.objects.create(
        study=study, top_class="", probabilities={}, models=[],
        findings={"pathology_threshold": None, "not_installed": ["ct-pathology"],
                  "volume": {"shape": [3, 8, 8], "spacing": [1, 1, 1], "original_shape": [3, 8, 8],
                             "original_spacing": [1, 1, 1]}},
    )
    if with_files:
        for index in range(3):
            _add_file(study, f"{patient_name.replace(' ', '_')}_{index}.dcm", b"DICM-deidentified-%d" % index,
                      "application/dicom")
        kinds = (Artifact.Kind.AXIAL, Artifact.Kind.CORONAL, Artifact.Kind.SAGITTAL, Artifact.Kind.MONTAGE)
        for index, kind in enumerate(kinds):
            _add_artifact(study, kind, f"{kind}.png", png_bytes(background=20 * index))
    return study


def _add_file(study: Study, original_name: str, data: bytes, content_type: str) -> None:
    study_file = StudyFile(study=study, original_name=original_name, content_type=content_type,
                           size=len(data), sha256="0" * 64)
    study_file.file.save("image" + original_name[original_name.rfind("."):], ContentFile(data), save=False)
    study_file.save()


def _add_artifact(study: Study, kind: str, name: str, data: bytes) -> None:
    artifact = Artifact(study=study, kind=kind)
    artifact.file.save(name, ContentFile(data), save=False)
    artifact.save()
