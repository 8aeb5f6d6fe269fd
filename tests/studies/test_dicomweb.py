"""STOW-RS: DICOM instances pushed over HTTP as multipart/related, as a PACS does."""
import io
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.test import Client
from django.urls import reverse
from pydicom.uid import generate_uid

from accounts.models import User
from accounts.services import user_api_token, user_create
from lesions_project.errors import ApplicationError
from studies.intake.multipart import read_parts
from studies.models import AuditEvent, Study, StudyFile
from tests.conftest import PASSWORD
from tests.dicom_files import write_ct_series, write_radiograph

BOUNDARY = "DICOMwebBoundary-4f2a"
DICOM_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
STORE_URL = "/dicomweb/studies"

SOP_CLASS, SOP_INSTANCE, FAILURE_REASON, ERROR_COMMENT = "00081150", "00081155", "00081197", "00000902"
REFERENCED, FAILED, RETRIEVE_URL = "00081199", "00081198", "00081190"


# --- helpers ---------------------------------------------------------------------------------


def multipart(parts: list[bytes], *, boundary: str = BOUNDARY, part_type: str | None = "application/dicom",
              preamble: bytes = b"", epilogue: bytes = b"", close: bool = True) -> bytes:
    body = bytearray(preamble)
    for data in parts:
        body += f"--{boundary}\r\n".encode()
        if part_type:
            body += f"Content-Type: {part_type}\r\n".encode()
        body += b"\r\n" + data + b"\r\n"
    if close:
        body += f"--{boundary}--\r\n".encode() + epilogue
    return bytes(body)


def ct_files(folder: Path, *, slices: int = 4, skip: frozenset[int] = frozenset(), study_uid: str | None = None):
    hu = np.random.default_rng(0).integers(-1000, 1000, size=(slices, 16, 16)).astype(np.int16)
    return [path.read_bytes() for path in write_ct_series(folder, hu, skip=skip, study_uid=study_uid)]


def radiograph(path: Path, *, modality: str = "CR", patient_id: str = "TEST-0002") -> bytes:
    pixels = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) % 256
    return write_radiograph(path, pixels, modality=modality, patient_id=patient_id).read_bytes()


def uids(data: bytes) -> tuple[str, str, str]:
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    return str(dataset.SOPClassUID), str(dataset.SOPInstanceUID), str(dataset.StudyInstanceUID)


def values(item: dict, tag: str):
    return item[tag].get("Value", [None])[0]


def push(client: Client, body: bytes, *, url: str = STORE_URL, content_type: str = DICOM_TYPE, **headers):
    return client.generic("POST", url, body, content_type=content_type, **headers)


def nothing_stored(settings) -> bool:
    media = Path(settings.MEDIA_ROOT)
    return (Study.objects.count() == 0 and StudyFile.objects.count() == 0
            and not (media.exists() and any(p.is_file() for p in media.rglob("*"))))


@pytest.fixture
def pacs_user(db) -> User:
    return user_create(username="pacs", password=PASSWORD, role=User.Role.CLINICIAN)


@pytest.fixture
def pacs(pacs_user) -> Client:
    return Client(HTTP_AUTHORIZATION="Token " + user_api_token(user=pacs_user))


# --- storing ---------------------------------------------------------------------------------


def test_a_ct_series_and_a_radiograph_in_one_push_make_two_studies(pacs, pacs_user, tmp_path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # the body is streamed, never read as request.body
    ct = ct_files(tmp_path / "ct")
    cr = radiograph(tmp_path / "cr.dcm")
    body = multipart([*ct[:2], cr, *ct[2:]])
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = push(pacs, body, HTTP_ACCEPT="application/dicom+json")

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    ct_study = Study.objects.get(kind=Study.Kind.CT)
    xray = Study.objects.get(kind=Study.Kind.CHEST_XRAY)
    assert Study.objects.count() == 2
    assert ct_study.owner == xray.owner == pacs_user
    assert ct_study.files.count() == ct_study.image_count == 4 and xray.files.count() == 1
    assert (ct_study.patient_name, ct_study.patient_identifier) == ("Test Patient", "TEST-0001")
    assert (xray.patient_name, xray.patient_identifier) == ("Test Patient", "TEST-0002")
    sent = {uids(data)[1]: uids(data)[0] for data in [*ct, cr]}
    for study_file in StudyFile.objects.all():
        stored = pydicom.dcmread(study_file.file.path)
        assert stored.PatientName == "" and stored.PatientID == "" and stored.PatientIdentityRemoved == "YES"
        assert str(stored.SOPInstanceUID) not in sent
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPLOADED).count() == 2

    dataset = response.json()
    assert FAILED not in dataset and RETRIEVE_URL not in dataset  # two studies: no single study URL
    referenced = dataset[REFERENCED]["Value"]
    assert dataset[REFERENCED]["vr"] == "SQ"
    assert {values(item, SOP_INSTANCE): values(item, SOP_CLASS) for item in referenced} == sent
    url_of = {study.id: "http://testserver" + reverse("studies-api:study-detail", kwargs={"study_id": study.id})
              for study in (ct_study, xray)}
    retrieve = {values(item, SOP_INSTANCE): values(item, RETRIEVE_URL) for item in referenced}
    assert retrieve[uids(cr)[1]] == url_of[xray.id]
    assert {retrieve[uids(data)[1]] for data in ct} == {url_of[ct_study.id]}
    assert referenced[0][RETRIEVE_URL]["vr"] == "UR"


def test_the_study_url_variant_stores_the_instances_of_that_study(pacs, tmp_path):
    study_uid = generate_uid()
    ct = ct_files(tmp_path / "ct", study_uid=study_uid)

    response = push(pacs, multipart(ct), url=f"{STORE_URL}/{study_uid}")

    assert response.status_code == 200, response.content
    study = Study.objects.get()
    assert values(response.json(), RETRIEVE_URL).endswith(f"/api/v1/studies/{study.id}/")


def test_the_study_url_variant_refuses_an_instance_of_another_study(pacs, tmp_path, settings):
    study_uid = generate_uid()
    ct = ct_files(tmp_path / "ct", study_uid=study_uid)
    stranger = radiograph(tmp_path / "other.dcm")

    response = push(pacs, multipart([*ct, stranger]), url=f"{STORE_URL}/{study_uid}")

    assert response.status_code == 409
    failed = {values(item, SOP_INSTANCE): item for item in response.json()[FAILED]["Value"]}
    assert len(failed) == 5
    assert values(failed[uids(stranger)[1]], FAILURE_REASON) == 0xA900
    assert "part-5.dcm belongs to study" in values(failed[uids(stranger)[1]], ERROR_COMMENT)
    assert {values(failed[uids(data)[1]], FAILURE_REASON) for data in ct} == {0x0110}
    assert nothing_stored(settings)


def test_a_ct_localizer_is_accepted_but_not_kept(pacs, tmp_path):
    study_uid = generate_uid()
    ct = ct_files(tmp_path / "ct", study_uid=study_uid)
    scout = pydicom.dcmread(io.BytesIO(ct_files(tmp_path / "scout", slices=1, study_uid=study_uid)[0]))
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    buffer = io.BytesIO()
    scout.save_as(buffer, enforce_file_format=True)

    response = push(pacs, multipart([buffer.getvalue(), *ct]))

    assert response.status_code == 200, response.content
    assert Study.objects.get().files.count() == 4
    referenced = {values(item, SOP_INSTANCE): item for item in response.json()[REFERENCED]["Value"]}
    assert len(referenced) == 5 and RETRIEVE_URL not in referenced[str(scout.SOPInstanceUID)]


# --- refusals by the ingest: 409, nothing stored --------------------------------------------


def test_a_gap_in_a_ct_series_refuses_the_whole_push(pacs, tmp_path, settings):
    ct = ct_files(tmp_path / "ct", slices=5, skip=frozenset({2}))
    cr = radiograph(tmp_path / "cr.dcm")

    response = push(pacs, multipart([cr, *ct]))

    assert response.status_code == 409
    assert response["Content-Type"] == "application/dicom+json"
    failed = {values(item, SOP_INSTANCE): item for item in response.json()[FAILED]["Value"]}
    assert {values(failed[uids(data)[1]], FAILURE_REASON) for data in ct} == {0xC000}
    assert "slices are missing" in values(failed[uids(ct[0])[1]], ERROR_COMMENT)
    assert values(failed[uids(cr)[1]], FAILURE_REASON) == 0x0110
    assert "slices are missing" in values(failed[uids(cr)[1]], ERROR_COMMENT)
    assert REFERENCED not in response.json()
    assert nothing_stored(settings)


def test_a_part_that_is_not_dicom_refuses_the_push(pacs, tmp_path, settings):
    cr = radiograph(tmp_path / "cr.dcm")

    response = push(pacs, multipart([cr, b"%PDF-1.4 not an image at all"]))

    assert response.status_code == 409
    first, second = response.json()[FAILED]["Value"]
    assert values(first, SOP_INSTANCE) == uids(cr)[1] and values(first, FAILURE_REASON) == 0x0110
    assert values(second, FAILURE_REASON) == 0xC000
    assert "Value" not in second[SOP_INSTANCE] and "Value" not in second[SOP_CLASS]
    assert values(second, ERROR_COMMENT) == "part-2.dcm is not a DICOM file."
    assert nothing_stored(settings)


def test_an_mr_image_does_not_match(pacs, tmp_path, settings):
    mr = radiograph(tmp_path / "mr.dcm", modality="MR")

    response = push(pacs, multipart([mr]))

    assert response.status_code == 409
    (item,) = response.json()[FAILED]["Value"]
    assert values(item, FAILURE_REASON) == 0xA900
    assert values(item, SOP_INSTANCE) == uids(mr)[1]
    assert "MR image" in values(item, ERROR_COMMENT)
    assert nothing_stored(settings)


# --- the request: media types, framing, size --------------------------------------------------


def test_the_type_parameter_may_be_unquoted(pacs, tmp_path):
    body = multipart([radiograph(tmp_path / "cr.dcm")])
    response = push(pacs, body, content_type=f"multipart/related; type=application/dicom; boundary={BOUNDARY}")
    assert response.status_code == 200, response.content


def test_without_a_type_parameter_parts_say_they_are_dicom(pacs, tmp_path):
    data = radiograph(tmp_path / "cr.dcm")
    content_type = f'multipart/related; boundary="{BOUNDARY}"'
    typed = multipart([data], part_type="application/dicom; transfer-syntax=1.2.840.10008.1.2.1")
    assert push(pacs, typed, content_type=content_type).status_code == 200
    untyped = push(pacs, multipart([data], part_type=None), content_type=content_type)
    assert untyped.status_code == 415
    assert "Part 1" in untyped.json()["detail"]


@pytest.mark.parametrize("content_type", [
    f"multipart/form-data; boundary={BOUNDARY}",
    f'multipart/related; type="application/dicom+xml"; boundary={BOUNDARY}',
    "application/dicom",
    "application/json",
])
def test_other_media_types_are_415(pacs, tmp_path, settings, content_type):
    response = push(pacs, multipart([radiograph(tmp_path / "cr.dcm")]), content_type=content_type)
    assert response.status_code == 415
    assert response["Content-Type"] == "application/json"
    assert "application/dicom" in response.json()["detail"]
    assert nothing_stored(settings)


def test_a_part_of_another_type_is_415(pacs, tmp_path, settings):
    response = push(pacs, multipart([radiograph(tmp_path / "cr.dcm")], part_type="image/jpeg"))
    assert response.status_code == 415
    assert nothing_stored(settings)


def test_no_boundary_is_400(pacs, tmp_path):
    response = push(pacs, multipart([radiograph(tmp_path / "cr.dcm")]),
                    content_type='multipart/related; type="application/dicom"')
    assert response.status_code == 400
    assert "boundary" in response.json()["detail"]


def test_a_truncated_body_is_400(pacs, tmp_path, settings):
    body = multipart([radiograph(tmp_path / "cr.dcm")], close=False)
    response = push(pacs, body[:-100])
    assert response.status_code == 400
    assert "closing boundary" in response.json()["detail"]
    assert nothing_stored(settings)


def test_an_empty_body_is_400(pacs):
    empty = push(pacs, b"", CONTENT_TYPE=DICOM_TYPE, CONTENT_LENGTH="0")  # as a client sends it
    assert empty.status_code == 400 and empty.json()["detail"] == "The request body is empty."
    assert push(pacs, f"--{BOUNDARY}--\r\n".encode()).json()["detail"] == "The body holds no parts."


def test_a_body_over_the_limit_is_413(pacs, tmp_path, settings):
    body = multipart([radiograph(tmp_path / "cr.dcm")])
    settings.MAX_RADIOLOGY_UPLOAD_BYTES = len(body) - 1
    response = push(pacs, body)
    assert response.status_code == 413
    assert nothing_stored(settings)


def test_an_accept_other_than_dicom_json_is_406(pacs, tmp_path):
    response = push(pacs, multipart([radiograph(tmp_path / "cr.dcm")]), HTTP_ACCEPT="application/dicom+xml")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"


# --- who may push ---------------------------------------------------------------------------


def test_anonymous_is_401(db, tmp_path, settings):
    response = push(Client(), multipart([radiograph(tmp_path / "cr.dcm")]))
    assert response.status_code == 401
    assert nothing_stored(settings)


def test_a_patient_is_403(users, tmp_path, settings):
    client = Client(HTTP_AUTHORIZATION="Token " + user_api_token(user=users.patient_a))
    response = push(client, multipart([radiograph(tmp_path / "cr.dcm")]))
    assert response.status_code == 403
    assert nothing_stored(settings)


def test_a_radiologist_signed_in_with_a_session_may_push(users, tmp_path):
    client = Client()
    client.force_login(users.radiologist)
    response = push(client, multipart([radiograph(tmp_path / "cr.dcm")]))
    assert response.status_code == 200, response.content
    assert Study.objects.get().owner == users.radiologist


# --- the multipart reader -----------------------------------------------------------------------


def read(body: bytes, chunk_size: int, **kwargs):
    kwargs.setdefault("max_bytes", len(body))
    return read_parts(io.BytesIO(body), boundary=BOUNDARY, chunk_size=chunk_size, **kwargs)


@pytest.mark.parametrize("chunk_size", [1, 7, 8192])
def test_parts_are_split_whatever_the_chunk_size(chunk_size, settings):
    # Near-misses of the delimiter inside the data, a preamble, padding and an epilogue.
    delimiter = f"\r\n--{BOUNDARY}".encode()
    tricky = b"\r\n--" + BOUNDARY[:-1].encode() + b"#" + b"\r\r\n-" + BOUNDARY.encode()
    head = f"preamble text\r\n--{BOUNDARY} \t\r\nContent-Type: application/dicom\r\n\r\n".encode()
    first = (tricky * 500)[:8190 - len(head)]  # its delimiter straddles the 8192-byte read
    rest = [b"", delimiter[:-1], bytes(range(256)) * 40]
    body = head + first + b"\r\n" + multipart(rest, epilogue=b"the end\r\n")
    assert body.index(delimiter, len(head)) == 8190

    parts = read(body, chunk_size)

    assert [part.read_and_close() for part in parts] == [first, *rest]
    assert [part.size for part in parts] == [len(data) for data in (first, *rest)]
    assert {part.content_type for part in parts} == {"application/dicom"}


def test_the_reader_counts_what_it_reads():
    body = multipart([b"x" * 1000])
    with pytest.raises(ApplicationError) as error:
        read(body, 64, max_bytes=500)
    assert error.value.status == 413


def test_parts_beyond_the_memory_budget_go_to_disk():
    parts = read(multipart([b"a" * 3000, b"b" * 3000, b"c" * 3000]), 512, memory_budget=4000)

    def in_memory(file) -> bool:
        return isinstance(file, tempfile.SpooledTemporaryFile) and not file._rolled

    assert [in_memory(part.file) for part in parts] == [True, False, False]
    assert [part.read_and_close() for part in parts] == [b"a" * 3000, b"b" * 3000, b"c" * 3000]


@pytest.mark.parametrize(("body", "message"), [
    (f"--{BOUNDARY}\r\n\r\nabc".encode(), "closing boundary"),
    (b"no boundary at all", "closing boundary"),
    (f"--{BOUNDARY}--\r\n".encode(), "no parts"),
    (f"--{BOUNDARY}junk\r\n\r\nabc\r\n--{BOUNDARY}--".encode(), "boundary line"),
    (f"--{BOUNDARY}\r\nno colon here\r\n\r\nabc\r\n--{BOUNDARY}--".encode(), "header line"),
])
def test_malformed_bodies_are_refused(body, message):
    with pytest.raises(ApplicationError, match=message):
        read(body, 7)


def test_a_body_without_content_length_is_411(pacs, tmp_path):
    response = push(pacs, multipart([radiograph(tmp_path / "cr.dcm")]), CONTENT_LENGTH="")
    assert response.status_code == 411
