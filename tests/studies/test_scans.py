"""X-ray and CT uploads through the page and the API: checked, de-identified, one study per
series, and nothing stored when any file is refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pydicom.uid import MRImageStorage, RLELossless
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from studies.models import AuditEvent, Study, StudyFile
from tests.dicom_files import new_dataset, write_ct_series, write_radiograph
from tests.images import jpeg_bytes

PATIENT_NAME = "Test^Patient"


def ct_volume(slices: int = 5) -> np.ndarray:
    hu = np.full((slices, 24, 24), -900.0, dtype=np.float32)
    hu[:, 8:16, 8:16] = 40.0
    return hu


def uploads(paths: list[Path]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(p.name, p.read_bytes(), content_type="application/dicom") for p in paths]


def zipped(paths: list[Path], *, prefix: str = "series/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.writestr(prefix + path.parent.name + "/" + path.name, path.read_bytes())
    return buffer.getvalue()


@pytest.fixture
def clinician_client(users) -> Client:
    client = Client()
    client.force_login(users.clinician)
    return client


def send(client: Client, kind: str, files, **fields):
    return client.post(reverse("studies:radiology_new"), {"kind": kind, "files": files, **fields})


def stored_datasets(study: Study) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f.file.path) for f in study.files.order_by("id")]


def test_ct_series_in_shuffled_files_becomes_one_deidentified_study(clinician_client, users, tmp_path):
    paths = write_ct_series(tmp_path / "ct", ct_volume(), shuffle=True)
    response = send(clinician_client, "ct", uploads(paths))
    study = Study.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/studies/{study.id}/")
    assert (study.kind, study.owner, study.review, study.image_count) == ("ct", users.clinician, "awaiting", 5)
    assert (study.patient_name, study.patient_identifier, study.modality) == ("Test Patient", "TEST-0001", "CT")
    datasets = stored_datasets(study)
    # stored in slice order, one series, identity removed but geometry kept
    assert [float(d.ImagePositionPatient[2]) for d in datasets] == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert len({d.SeriesInstanceUID for d in datasets}) == 1
    for dataset in datasets:
        assert str(dataset.PatientName) == "" and dataset.PatientID == ""
        assert dataset.PatientIdentityRemoved == "YES"
        assert list(dataset.PixelSpacing) == [0.7, 0.7]
    for stored in study.files.all():
        raw = Path(stored.file.path).read_bytes()
        assert PATIENT_NAME.encode() not in raw and b"TEST-0001" not in raw
    assert AuditEvent.objects.filter(study_id=study.id, action="uploaded", username="carl").exists()


def test_zip_with_two_series_makes_two_studies(clinician_client, tmp_path):
    first = write_ct_series(tmp_path / "one", ct_volume(4))
    second = write_ct_series(tmp_path / "two", ct_volume(3))
    archive = SimpleUploadedFile("exam.zip", zipped(first + second), content_type="application/zip")
    response = send(clinician_client, "ct", [archive])
    assert response.status_code == 302
    assert sorted(Study.objects.values_list("image_count", flat=True)) == [3, 4]


def test_compressed_ct_is_accepted(clinician_client, tmp_path):
    paths = write_ct_series(tmp_path / "ct", ct_volume(3))
    for path in paths:
        dataset = pydicom.dcmread(path)
        dataset.compress(RLELossless)
        dataset.save_as(path, enforce_file_format=True)
    assert send(clinician_client, "ct", uploads(paths)).status_code == 302
    study = Study.objects.get()
    assert stored_datasets(study)[0].file_meta.TransferSyntaxUID == RLELossless


def test_localizers_and_dicomdir_are_skipped(clinician_client, tmp_path):
    paths = write_ct_series(tmp_path / "ct", ct_volume(3))
    scout = write_ct_series(tmp_path / "scout", ct_volume(1))[0]
    dataset = pydicom.dcmread(scout)
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    dataset.save_as(scout, enforce_file_format=True)
    assert send(clinician_client, "ct", uploads([*paths, scout])).status_code == 302
    assert Study.objects.get().image_count == 3


@pytest.mark.parametrize(("problem", "message"), [
    ("gap", "slices are missing"),
    ("one slice", "only one slice"),
    ("mr", "MR image, but a CT image is needed"),
    ("no pixels", "no pixel data"),
    ("text", "not a DICOM file"),
    ("unsafe zip", "unsafe path"),
    ("duplicate", "same position"),
])
def test_bad_ct_uploads_are_refused_and_nothing_is_stored(clinician_client, tmp_path, problem, message):
    good = write_ct_series(tmp_path / "good", ct_volume(4))
    if problem == "gap":
        files = uploads(write_ct_series(tmp_path / "gap", ct_volume(6), skip={3}))
    elif problem == "one slice":
        files = uploads(write_ct_series(tmp_path / "one", ct_volume(1)))
    elif problem == "mr":
        dataset = pydicom.dcmread(good[0])
        dataset.Modality, dataset.SOPClassUID = "MR", MRImageStorage
        dataset.save_as(good[0], enforce_file_format=True)
        files = uploads(good)
    elif problem == "no pixels":
        dataset = pydicom.dcmread(good[1])
        del dataset.PixelData
        dataset.save_as(good[1], enforce_file_format=True)
        files = uploads(good)
    elif problem == "text":
        files = [*uploads(good), SimpleUploadedFile("notes.dcm", b"just some text" * 20)]
    elif problem == "unsafe zip":
        files = [SimpleUploadedFile("exam.zip", zipped(good, prefix="../../"))]
    else:
        files = uploads(good) + uploads([good[0]])
    response = send(clinician_client, "ct", files)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Study.objects.count() == 0 and StudyFile.objects.count() == 0


def test_xray_dicom_monochrome1_and_image_files(clinician_client, tmp_path):
    pixels = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    dicom = write_radiograph(tmp_path / "cr.dcm", pixels, photometric="MONOCHROME1")
    photo = SimpleUploadedFile("chest.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = send(clinician_client, "chest_xray", [*uploads([dicom]), photo],
                    patient_name="Jane Roe", patient_identifier="H-42")
    assert response.status_code == 302
    studies = Study.objects.order_by("created_at")
    assert [s.kind for s in studies] == ["chest_xray", "chest_xray"]
    # the names given in the form win over the DICOM header
    assert {(s.patient_name, s.patient_identifier) for s in studies} == {("Jane Roe", "H-42")}
    assert sorted(f.content_type for f in StudyFile.objects.all()) == ["application/dicom", "image/jpeg"]


def test_a_ct_file_is_refused_as_an_xray(clinician_client, tmp_path):
    paths = write_ct_series(tmp_path / "ct", ct_volume(2))
    response = send(clinician_client, "chest_xray", uploads(paths[:1]))
    assert "CT image, but a CR/DR/DX image is needed" in response.content.decode()
    assert Study.objects.count() == 0


def test_patients_cannot_send_radiology(client_a, tmp_path):
    paths = write_ct_series(tmp_path / "ct", ct_volume(2))
    assert client_a.get(reverse("studies:radiology_new")).status_code == 403
    assert send(client_a, "ct", uploads(paths)).status_code == 403
    assert Study.objects.count() == 0


def test_api_upload_with_several_file_parts(users, tmp_path):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=users.clinician).key}")
    paths = write_ct_series(tmp_path / "ct", ct_volume(4))
    response = api.post(reverse("studies-api:study-list"), {"kind": "ct", "file": uploads(paths)},
                        format="multipart")
    assert response.status_code == 201, response.content
    (created,) = response.json()["studies"]
    assert created["kind"] == "ct" and created["review"] == "awaiting" and created["urgency"] == "not_assessed"
    assert Study.objects.get().image_count == 4

    bad = api.post(reverse("studies-api:study-list"),
                   {"kind": "ct", "file": uploads(write_ct_series(tmp_path / "one", ct_volume(1)))},
                   format="multipart")
    assert bad.status_code == 400 and "only one slice" in bad.json()["file"][0]
    assert Study.objects.count() == 1


def test_clinician_reads_only_the_final_report(clinician_client, users, tmp_path):
    paths = write_ct_series(tmp_path / "ct", ct_volume(3))
    send(clinician_client, "ct", uploads(paths))
    study = Study.objects.get()
    page = clinician_client.get(reverse("studies:study_detail", kwargs={"study_id": study.id}))
    assert page.status_code == 200 and "once a radiologist has signed it" in page.content.decode()
    upload = reverse("studies:study_file", kwargs={"study_id": study.id, "kind": "upload"})
    assert clinician_client.get(upload).status_code == 404
    # another clinician does not see it at all
    other = Client()
    from accounts.services import user_create
    other.force_login(user_create(username="cleo", password="a-long-Password-123", role="clinician"))
    assert other.get(reverse("studies:study_detail", kwargs={"study_id": study.id})).status_code == 404


def test_zip_bomb_is_refused(clinician_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("series/bomb.dcm", b"\0" * (20 * 1024 * 1024))
    response = send(clinician_client, "ct", [SimpleUploadedFile("bomb.zip", buffer.getvalue())])
    assert "zip bomb" in response.content.decode()
    assert Study.objects.count() == 0


def test_new_dataset_helper_is_importable():
    # the helpers the tests share with the benchmarks
    assert new_dataset is not None


def test_sender_deletes_only_before_a_radiologist_takes_the_study(clinician_client, users, tmp_path):
    send(clinician_client, "ct", uploads(write_ct_series(tmp_path / "a", ct_volume(2))))
    send(clinician_client, "ct", uploads(write_ct_series(tmp_path / "b", ct_volume(2))))
    waiting, claimed = Study.objects.order_by("created_at")
    Study.objects.filter(id=claimed.id).update(review=Study.Review.IN_REVIEW, claimed_by=users.radiologist)
    delete = lambda study: clinician_client.post(reverse("studies:study_delete", kwargs={"study_id": study.id}))  # noqa: E731
    assert delete(claimed).status_code == 403
    assert delete(waiting).status_code == 302
    assert list(Study.objects.all()) == [claimed]
    assert AuditEvent.objects.filter(study_id=waiting.id, action="deleted", username="carl").exists()
