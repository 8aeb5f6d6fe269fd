"""Radiology uploads (files, or zips of them) turned into checked, de-identified studies.

Everything is checked before anything is stored: one bad file refuses the whole upload with
a message naming it, and nothing is half-stored. A CT upload becomes one study per series;
an X-ray upload one study per image. The stored DICOM copies are de-identified; the patient's
name and id go to the database only.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.models import User
from lesions_project.errors import ApplicationError
from ml.series import SeriesError, order_slices
from studies import audit
from studies.analysis.outbox import queue_analysis
from studies.intake.archives import read_members
from studies.intake.deidentify import UidMap, deidentify
from studies.intake.dicom_files import CT_MODALITIES, RADIOGRAPH_MODALITIES, check_dicom, read_dicom
from studies.intake.photos import read_photo
from studies.models import Study, StudyFile
from studies.storage import delete_files

logger = logging.getLogger(__name__)

DICOM_CONTENT_TYPE = "application/dicom"
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
ZIP_SIGNATURE = b"PK\x03\x04"



SEND_RADIOLOGY_ONLY = _lazy("Only clinicians and radiologists send X-rays and CT.")


@dataclass
class Incoming:
    """One file of an upload: an uploaded file or a member of an uploaded zip."""

    name: str
    data: bytes


@dataclass
class StoredFile:
    name: str
    data: bytes
    content_type: str
    extension: str


@dataclass
class PreparedStudy:
    kind: str
    files: list[StoredFile] = field(default_factory=list)
    patient_name: str = ""
    patient_identifier: str = ""
    patient_age: str = ""
    patient_sex: str = ""
    modality: str = ""
    description: str = ""
    study_date: datetime.date | None = None


def radiology_studies_create(*, owner: User, kind: str | None, uploads: Iterable[UploadedFile],
                             language: str, patient_name: str = "", patient_identifier: str = "",
                             request=None) -> list[Study]:
    """Check, de-identify and store an upload; returns the new studies, queued for pre-read.

    ``kind`` is ``chest_xray`` or ``ct``; None takes it from each DICOM file's modality (a
    PACS push). Raises ApplicationError, with nothing stored, when any file is refused.
    """
    prepared = prepare(incoming_files(uploads), kind=kind)
    return store(owner=owner, prepared=prepared, language=language, patient_name=patient_name,
                 patient_identifier=patient_identifier, request=request)


def incoming_files(uploads: Iterable[UploadedFile]) -> list[Incoming]:
    """The uploaded files, with every zip replaced by its (checked) members."""
    items: list[Incoming] = []
    total = 0
    limit = settings.MAX_RADIOLOGY_UPLOAD_BYTES
    for upload in uploads:
        name = PurePosixPath(upload.name or "upload").name
        total += upload.size or 0
        if total > limit:
            raise ApplicationError(_("The upload is larger than %(limit)s.") % {"limit": filesizeformat(limit)},
                                   field="file")
        if not upload.size:
            raise ApplicationError(_("%(name)s is empty.") % {"name": name}, field="file", names=[name])
        upload.seek(0)
        if upload.read(4) == ZIP_SIGNATURE:
            upload.seek(0)
            try:
                items.extend(Incoming(f"{name}/{m.name}", m.data)
                             for m in read_members(upload, max_total_bytes=limit))
            except ApplicationError as error:
                raise ApplicationError(f"{name}: {error.message}", field="file", names=[name]) from None
        else:
            upload.seek(0)
            items.append(Incoming(name, upload.read()))
    if not items:
        raise ApplicationError(_("No files were uploaded."), field="file")
    return items


def prepare(items: list[Incoming], *, kind: str | None) -> list[PreparedStudy]:
    """Check every file and build the studies they make, de-identified, in memory."""
    uids = UidMap()
    radiographs: list[PreparedStudy] = []
    series: dict[str, list[tuple[Incoming, object]]] = {}
    for item in items:
        if _is_dicom(item.data):
            dataset = _read_checked(item, kind)
            item.data = b""  # the dataset holds the pixels now; keep one copy in memory
            if dataset is None:
                continue
            modality = str(dataset.Modality).upper()
            if modality in CT_MODALITIES:
                series.setdefault(str(dataset.get("SeriesInstanceUID", "")), []).append((item, dataset))
            else:
                study = _study_from(dataset, Study.Kind.CHEST_XRAY)
                study.files.append(_stored_dicom(item, dataset, uids))
                radiographs.append(study)
        elif kind == Study.Kind.CHEST_XRAY:
            radiographs.append(_radiograph_image(item))
        elif kind == Study.Kind.CT:
            raise ApplicationError(_("%(name)s is not a DICOM file; a CT is uploaded as its DICOM files.")
                                   % {"name": item.name}, field="file", names=[item.name])
        else:
            raise ApplicationError(_("%(name)s is not a DICOM file.") % {"name": item.name}, field="file",
                                   names=[item.name])
    studies = radiographs + [_ct_study(members, uids) for members in series.values()]
    if not studies:
        raise ApplicationError(_("The upload holds no images."), field="file")
    return studies


def store(*, owner: User, prepared: list[PreparedStudy], language: str, patient_name: str = "",
          patient_identifier: str = "", request=None) -> list[Study]:
    """Create the studies and their files in one transaction; queue each once committed."""
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    written: list[str] = []
    studies: list[Study] = []
    try:
        with transaction.atomic():
            for item in prepared:
                study = Study.objects.create(
                    owner=owner, kind=item.kind, language=language, review=Study.Review.AWAITING,
                    patient_name=(patient_name or item.patient_name)[:200],
                    patient_identifier=(patient_identifier or item.patient_identifier)[:64],
                    patient_age=item.patient_age[:8], patient_sex=item.patient_sex[:4],
                    modality=item.modality[:8], description=item.description[:200],
                    study_date=item.study_date, image_count=len(item.files),
                )
                for stored in item.files:
                    study_file = StudyFile(
                        study=study, original_name=stored.name[-255:], content_type=stored.content_type,
                        size=len(stored.data), sha256=hashlib.sha256(stored.data).hexdigest(),
                    )
                    study_file.file.save(f"image{stored.extension}", ContentFile(stored.data), save=False)
                    written.append(study_file.file.name)
                    study_file.save()
                audit.audit(owner, study.id, audit.Action.UPLOADED, detail=f"{len(item.files)} file(s)",
                            request=request)
                studies.append(study)
            for study in studies:
                transaction.on_commit(lambda study_id=study.id: queue_analysis(study_id), robust=True)
    except BaseException:
        delete_files(written)
        raise
    return studies


def _is_dicom(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == b"DICM"


def _read_checked(item: Incoming, kind: str | None):
    """The dataset of a DICOM file of the right modality with decodable pixels; None for a
    file that is skipped (a DICOMDIR index, a CT localizer)."""
    try:
        dataset = read_dicom(io.BytesIO(item.data))
        if str(dataset.get("SOPClassUID", "")) == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in dataset:
            return None
        if _is_ct_localizer(dataset, kind):
            return None
        modalities = {Study.Kind.CT: CT_MODALITIES, Study.Kind.CHEST_XRAY: RADIOGRAPH_MODALITIES}.get(
            kind, CT_MODALITIES | RADIOGRAPH_MODALITIES)
        check_dicom(dataset, modalities=modalities)
    except ApplicationError as error:
        raise ApplicationError(f"{item.name}: {error.message}", field="file", names=[item.name]) from None
    return dataset


def _is_ct_localizer(dataset, kind: str | None) -> bool:
    """A CT scout image, skipped: in a CT upload, or in a PACS push (kind None), where a
    CT study usually comes with its localizer series."""
    is_ct = kind == Study.Kind.CT or (kind is None and str(dataset.get("Modality", "")).upper() in CT_MODALITIES)
    return is_ct and "LOCALIZER" in [str(v).upper() for v in dataset.get("ImageType", [])]


def _radiograph_image(item: Incoming) -> PreparedStudy:
    try:
        photo = read_photo(_NamedBytes(item))
    except ApplicationError as error:
        raise ApplicationError(f"{item.name}: {error.message}", field="file", names=[item.name]) from None
    study = PreparedStudy(kind=Study.Kind.CHEST_XRAY, modality="", description="")
    study.files.append(StoredFile(item.name, item.data, photo.content_type, photo.extension))
    return study


def _ct_study(members: list[tuple[Incoming, object]], uids: UidMap) -> PreparedStudy:
    datasets = [dataset for _item, dataset in members]
    try:
        order = order_slices(datasets)
    except SeriesError as error:
        names = ", ".join(item.name for item, _dataset in members[:3])
        raise ApplicationError(_("The CT series (%(names)s…) cannot be used: %(reason)s")
                               % {"names": names, "reason": _series_problem(error)}, field="file",
                               names=[item.name for item, _dataset in members]) from None
    study = _study_from(datasets[order.order[0]], Study.Kind.CT)
    for index in order.order:
        item, dataset = members[index]
        study.files.append(_stored_dicom(item, dataset, uids))
    return study


def _series_problem(error: SeriesError) -> str:
    messages = {
        "too_few": _("it has only one slice; a CT series needs several"),
        "mixed": _("its files belong to different series"),
        "no_position": _("a slice has no position in the patient (ImagePositionPatient)"),
        "duplicate": _("two slices have the same position (duplicates, or two series mixed)"),
        "gap": _("slices are missing (about %(count)d)") % {"count": error.missing},
        "sizes": _("the slices differ in size"),
    }
    return messages.get(error.code, str(error))


def _study_from(dataset, kind: str) -> PreparedStudy:
    """The study's descriptive fields, read before the dataset is de-identified."""
    return PreparedStudy(
        kind=kind,
        patient_name=str(dataset.get("PatientName", "") or "").replace("^", " ").strip(),
        patient_identifier=str(dataset.get("PatientID", "") or ""),
        patient_age=str(dataset.get("PatientAge", "") or ""),
        patient_sex=str(dataset.get("PatientSex", "") or ""),
        modality=str(dataset.get("Modality", "") or "").upper(),
        description=str(dataset.get("SeriesDescription", "") or dataset.get("StudyDescription", "") or ""),
        study_date=_date(str(dataset.get("StudyDate", "") or "")),
    )


def _stored_dicom(item: Incoming, dataset, uids: UidMap) -> StoredFile:
    """The de-identified copy of ``dataset`` as Part 10 bytes; the pixels are then dropped
    from the dataset so that a large series is not held twice."""
    deidentify(dataset, uids)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    del dataset.PixelData
    return StoredFile(item.name, buffer.getvalue(), DICOM_CONTENT_TYPE, ".dcm")


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.datetime.strptime(value[:8], "%Y%m%d").replace(tzinfo=datetime.UTC).date()
    except ValueError:
        return None


class _NamedBytes(io.BytesIO):
    """An in-memory file with the ``name`` and ``size`` that read_photo reports on."""

    def __init__(self, item: Incoming) -> None:
        super().__init__(item.data)
        self.name = item.name
        self.size = len(item.data)
