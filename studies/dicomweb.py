"""DICOMweb STOW-RS (DICOM PS3.18 §10.5, Store Transaction): a PACS or a modality pushes
studies over HTTP.

    POST /dicomweb/studies
    POST /dicomweb/studies/{StudyInstanceUID}
    Content-Type: multipart/related; type="application/dicom"; boundary=...
    Authorization: Token ...   (or a session; radiologists, clinicians and admins only)

Each part is one DICOM Part 10 file. The body is read from the request stream in chunks and
each part is spooled to a temporary file (kept in memory only up to
FILE_UPLOAD_MAX_MEMORY_SIZE for the whole request), so a large CT push goes to disk and
``request.body`` (capped by DATA_UPLOAD_MAX_MEMORY_SIZE) is never touched.

The parts then go through the radiology ingest with ``kind=None`` (each file's modality
decides): one study per CT series, one per radiograph, de-identified copies stored, the
uploader as owner. The ingest is all-or-nothing, and so is a store transaction here:

- 200, every instance stored: a Store Instances Response whose ReferencedSOPSequence lists
  every instance received with its SOP Class and Instance UIDs *as sent* (the stored copies
  carry new ones) and, as RetrieveURL, our API URL of the study it went into (the top-level
  RetrieveURL too, when there is one study). A CT localizer is accepted but not kept: it is
  listed without a RetrieveURL.
- 409, nothing stored: the FailedSOPSequence lists every instance. FailureReason 0xA900
  (data set does not match) for an instance of a modality we do not take or of another study
  than the one in the URL; 0xC000 (cannot understand) for a part that is not DICOM, an
  image that cannot be decoded, a broken CT series; 0x0110 (processing failure) for the
  instances that were fine but not stored because another one was refused. Each item's
  ErrorComment (0000,0902) carries the reason in plain words (longer than LO's 64
  characters where needed, as dcm4chee does); a part that cannot be read has no UIDs.
- 400 malformed multipart, 401/403, 406 (Accept not DICOM JSON), 411 no Content-Length,
  413 larger than MAX_RADIOLOGY_UPLOAD_BYTES, 415 not multipart/related of
  application/dicom: plain JSON ``{"detail": ...}``, as the rest of the API.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pydicom
from django.conf import settings
from django.urls import re_path, reverse
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from pydicom.datadict import dictionary_VR, tag_for_keyword
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import SendsRadiology
from lesions_project.errors import ApplicationError
from studies.intake.dicom_files import CT_MODALITIES, RADIOGRAPH_MODALITIES
from studies.intake.multipart import Part, read_parts, too_large
from studies.intake.scans import Incoming, prepare, store

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"

# FailureReason (0008,1197) values, PS3.4 Annex B.2.3 and PS3.7 Annex C.
PROCESSING_FAILURE = 0x0110
DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


# --- The store transaction ----------------------------------------------------------------


@dataclass
class Instance:
    """One part as sent, identified before the ingest de-identifies it."""

    name: str  # how the ingest and its messages name the part
    readable: bool = False
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_uid: str = ""
    modality: str = ""


@dataclass
class StoreOutcome:
    status: int
    dataset: dict = field(default_factory=dict)  # DICOM JSON (PS3.18 F.2)


def store_instances(*, owner: User, parts: list[Part], study_uid: str | None, language: str,
                    request) -> StoreOutcome:
    """Store the pushed instances as studies, all or none, and describe the outcome as a
    Store Instances Response."""
    instances, items = [], []
    for number, part in enumerate(parts, start=1):
        name = f"part-{number}.dcm"
        data = part.read_and_close()
        instances.append(_identify(name, data))
        items.append(Incoming(name, data))
    refused = _refused_before_ingest(instances, study_uid)
    if refused:
        return StoreOutcome(409, _failed_response(instances, refused))
    try:
        prepared = prepare(items, kind=None)
        studies = store(owner=owner, prepared=prepared, language=language, request=request)
    except ApplicationError as refusal:
        return StoreOutcome(409, _failed_response(instances, _refused_by_ingest(instances, refusal)))
    urls = [request.build_absolute_uri(reverse("studies-api:study-detail", kwargs={"study_id": study.id}))
            for study in studies]
    url_of = {stored.name: url for item, url in zip(prepared, urls, strict=True) for stored in item.files}
    referenced = [_sop_reference(instance) | (_element("RetrieveURL", url_of[instance.name])
                                              if instance.name in url_of else {})
                  for instance in instances]
    dataset = _element("ReferencedSOPSequence", *referenced)
    if len(urls) == 1:
        dataset |= _element("RetrieveURL", urls[0])
    return StoreOutcome(200, dict(sorted(dataset.items())))


def _identify(name: str, data: bytes) -> Instance:
    instance = Instance(name)
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception:  # noqa: BLE001  pydicom raises many types for files that are not (valid) DICOM
        return instance
    meta = getattr(dataset, "file_meta", None) or {}
    instance.readable = True
    instance.sop_class_uid = str(dataset.get("SOPClassUID", "") or meta.get("MediaStorageSOPClassUID", ""))
    instance.sop_instance_uid = str(dataset.get("SOPInstanceUID", "")
                                    or meta.get("MediaStorageSOPInstanceUID", ""))
    instance.study_uid = str(dataset.get("StudyInstanceUID", "") or "")
    instance.modality = str(dataset.get("Modality", "") or "").upper()
    return instance


def _refused_before_ingest(instances: list[Instance], study_uid: str | None) -> dict[str, tuple[int, str]]:
    """Parts that are not DICOM, and instances of another study than the URL's."""
    refused = {}
    for instance in instances:
        if not instance.readable:
            refused[instance.name] = (CANNOT_UNDERSTAND,
                                      _("%(name)s is not a DICOM file.") % {"name": instance.name})
        elif study_uid and instance.study_uid != study_uid:
            refused[instance.name] = (DOES_NOT_MATCH, _("%(name)s belongs to study %(found)s, not to "
                                                        "study %(expected)s.")
                                      % {"name": instance.name, "found": instance.study_uid or "?",
                                         "expected": study_uid})
    return refused


def _refused_by_ingest(instances: list[Instance], refusal: ApplicationError) -> dict[str, tuple[int, str]]:
    """The instances the ingest names (every one when it names none), with a reason code."""
    accepted = CT_MODALITIES | RADIOGRAPH_MODALITIES
    named = set(refusal.names) or {instance.name for instance in instances}
    return {instance.name: (CANNOT_UNDERSTAND if instance.modality in accepted else DOES_NOT_MATCH,
                            refusal.message)
            for instance in instances if instance.name in named}


def _failed_response(instances: list[Instance], refused: dict[str, tuple[int, str]]) -> dict:
    first_reason = next(iter(refused.values()))[1]
    bystander = (PROCESSING_FAILURE, _("Not stored, because the request was refused: %(reason)s")
                 % {"reason": first_reason})
    items = []
    for instance in instances:
        code, message = refused.get(instance.name, bystander)
        items.append(_sop_reference(instance) | _element("FailureReason", code)
                     | _element("ErrorComment", str(message)))
    return _element("FailedSOPSequence", *[dict(sorted(item.items())) for item in items])


def _sop_reference(instance: Instance) -> dict:
    return (_element("ReferencedSOPClassUID", instance.sop_class_uid)
            | _element("ReferencedSOPInstanceUID", instance.sop_instance_uid))


def _element(keyword: str, *values) -> dict:
    """One attribute in the DICOM JSON model; an empty value has no "Value"."""
    tag = tag_for_keyword(keyword)
    element = {"vr": dictionary_VR(tag)}
    if [value for value in values if value != ""]:
        element["Value"] = list(values)
    return {f"{tag:08X}": element}


# --- HTTP -------------------------------------------------------------------------------------


class DicomJsonRenderer(JSONRenderer):
    media_type = DICOM_JSON
    format = "dicomjson"


class LengthRequired(exceptions.APIException):
    status_code = 411
    default_detail = gettext_lazy("The request needs a Content-Length.")


class RequestTooLarge(exceptions.APIException):
    status_code = 413


class StoreInstancesApi(APIView):
    """STOW-RS (DICOM PS3.18 10.5): store the DICOM files of a multipart/related body. All or
    none: 200 lists every instance with the URL of its new study, 409 (nothing stored) gives
    each one's FailureReason and ErrorComment."""

    permission_classes = [IsAuthenticated, SendsRadiology]
    renderer_classes = [DicomJsonRenderer, JSONRenderer]
    parser_classes: list = []  # the body is read as a stream, never as request.data

    @extend_schema(
        operation_id="dicomweb_store_instances",
        request={f'multipart/related; type="{DICOM}"': OpenApiTypes.BINARY},
        responses={(200, DICOM_JSON): OpenApiTypes.OBJECT, (409, DICOM_JSON): OpenApiTypes.OBJECT,
                   400: OpenApiResponse(), 413: OpenApiResponse(), 415: OpenApiResponse()},
    )
    def post(self, request: Request, study_uid: str | None = None) -> Response:
        boundary = _boundary(request.META.get("CONTENT_TYPE", ""))
        max_bytes = settings.MAX_RADIOLOGY_UPLOAD_BYTES
        length = _content_length(request)
        if length > max_bytes:
            raise RequestTooLarge(too_large(max_bytes))
        if length == 0:
            raise exceptions.ParseError(_("The request body is empty."))
        parts = read_parts(request.stream, boundary=boundary, max_bytes=max_bytes)
        try:
            _check_part_types(parts, request.META.get("CONTENT_TYPE", ""))
            outcome = store_instances(owner=request.user, parts=parts, study_uid=study_uid,
                                      language=request.LANGUAGE_CODE, request=request)
        finally:
            for part in parts:
                part.file.close()
        return Response(outcome.dataset, status=outcome.status)

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False):  # errors are plain JSON, not DICOM datasets
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


@extend_schema_view(post=extend_schema(operation_id="dicomweb_store_study_instances"))
class StoreStudyInstancesApi(StoreInstancesApi):
    """STOW-RS into the study of the URL: an instance of another study is refused."""


def _boundary(content_type: str) -> str:
    try:
        media_type, params = parse_header_parameters(content_type)
    except ValueError:
        media_type, params = "", {}
    root_type = params.get("type", DICOM).strip().lower()
    if media_type != "multipart/related" or root_type != DICOM:
        raise exceptions.UnsupportedMediaType(
            content_type, _('Send multipart/related; type="application/dicom" (got %(type)s).')
            % {"type": content_type or _("no content type")})
    boundary = params.get("boundary", "")
    if not 0 < len(boundary) <= 70 or not boundary.isascii():
        raise exceptions.ParseError(_("The Content-Type has no valid multipart boundary."))
    return boundary


def _content_length(request: Request) -> int:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length < 0:
        raise LengthRequired()
    return length


def _check_part_types(parts: list[Part], content_type: str) -> None:
    """Each part is application/dicom: said by the part, or by the request's type."""
    root_type = parse_header_parameters(content_type)[1].get("type", "").strip().lower()
    for number, part in enumerate(parts, start=1):
        part_type = part.content_type or root_type
        if part_type != DICOM:
            raise exceptions.UnsupportedMediaType(
                part_type, _("Part %(number)d is %(type)s; only application/dicom is stored.")
                % {"number": number, "type": part_type or _("of no stated type")})


urlpatterns = [
    re_path(r"^studies$", StoreInstancesApi.as_view(), name="store-instances"),
    re_path(r"^studies/(?P<study_uid>[0-9.]{1,64})$", StoreStudyInstancesApi.as_view(), name="store-study-instances"),
]
app_name = "dicomweb"
