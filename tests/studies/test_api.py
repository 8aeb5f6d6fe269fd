import io
from pathlib import Path

import pypdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import user_api_token
from studies.models import Study, StudyFile
from tests import images

pytestmark = pytest.mark.django_db

BAD_UPLOADS = images.bad_uploads()


@pytest.fixture
def api_a(users) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + user_api_token(user=users.patient_a))
    return client


def upload(client: APIClient, data: bytes | None = None, name: str = "spot.jpg", kind: str = "skin_photo"):
    file = SimpleUploadedFile(name, images.jpeg_bytes() if data is None else data, "image/jpeg")
    return client.post(reverse("studies-api:study-list"), {"kind": kind, "file": file}, format="multipart")


def test_upload_returns_the_queued_study(api_a, users):
    response = upload(api_a)
    assert response.status_code == 201
    body = response.json()
    study = Study.objects.get(id=body["id"])
    assert study.owner == users.patient_a
    assert body["kind"] == "skin_photo"
    assert body["status"] == "queued"
    assert body["original_name"] == "spot.jpg"
    assert body["result"] is None
    assert body["urls"]["photo"].startswith("http://testserver/api/v1/studies/")
    assert body["urls"]["report"] is None


@pytest.mark.parametrize(("name", "data", "message"), BAD_UPLOADS, ids=[name for name, _, _ in BAD_UPLOADS])
def test_bad_upload_is_400_with_the_reason(api_a, name, data, message):
    response = upload(api_a, data, name=name)
    assert response.status_code == 400
    assert response.json() == {"file": [message]}
    assert Study.objects.count() == 0 and StudyFile.objects.count() == 0


def test_patients_cannot_send_radiology(api_a):
    response = upload(api_a, kind="chest_xray")
    assert response.status_code == 403
    assert Study.objects.count() == 0


def test_unknown_kind_is_400(api_a):
    response = upload(api_a, kind="mri")
    assert response.status_code == 400
    assert "kind" in response.json()


def test_list_is_paginated(api_a, analysed_study):
    body = api_a.get(reverse("studies-api:study-list")).json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == str(analysed_study.id)
    assert body["results"][0]["result"]["top_class"] == analysed_study.result.top_class


def test_detail_of_a_done_study(api_a, analysed_study):
    body = api_a.get(reverse("studies-api:study-detail", kwargs={"study_id": analysed_study.id})).json()
    assert body["status"] == "done" and body["stage"] == "" and body["failure_reason"] == ""
    assert body["finished_at"] is not None
    result = body["result"]
    assert set(result["probabilities"]) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    assert result["top_class"] == max(result["probabilities"], key=result["probabilities"].get)
    assert result["urgency"]["level"] in {"soon", "routine"}
    cancer = sum(result["probabilities"][c] for c in ("akiec", "bcc", "mel"))
    soon = result["top_class"] in {"akiec", "bcc", "mel"} or cancer >= 0.30
    expected_level = "soon" if soon else "routine"
    assert result["urgency"]["level"] == expected_level
    assert result["urgency"]["advice"]
    assert result["disclaimer"].startswith("This is decision support produced by a computer model")
    assert {"name": "skin-classifier", "version": "0.0.0-test"} in result["models"]
    assert 0 <= result["lesion_area_fraction"] <= 1
    for key in ["photo", "outline", "heatmap", "report"]:
        assert body["urls"][key].startswith("http://testserver/")
    # every URL in the answer works with the same token
    for key in ["photo", "outline", "heatmap", "report"]:
        assert api_a.get(body["urls"][key]).status_code == 200


def test_detail_in_russian(api_a, analysed_study):
    body = api_a.get(
        reverse("studies-api:study-detail", kwargs={"study_id": analysed_study.id}), HTTP_ACCEPT_LANGUAGE="ru"
    ).json()
    assert "не диагноз" in body["result"]["disclaimer"]


def test_report_pdf(api_a, analysed_study):
    response = api_a.get(reverse("studies-api:study-report", kwargs={"study_id": analysed_study.id}), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    assert "decision support" in "".join(page.extract_text() for page in pdf.pages)


def test_report_is_404_until_done(api_a, queued_study):
    response = api_a.get(reverse("studies-api:study-report", kwargs={"study_id": queued_study.id}))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_delete(api_a, analysed_study, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.delete(reverse("studies-api:study-detail", kwargs={"study_id": analysed_study.id}))
    assert response.status_code == 204
    assert not Study.objects.filter(id=analysed_study.id).exists()
    assert not any(path.is_file() for path in Path(settings.MEDIA_ROOT).rglob("*"))


def test_needs_authentication(analysed_study):
    assert APIClient().get(reverse("studies-api:study-list")).status_code == 401


def test_openapi_schema_lists_the_study_paths(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/studies/",
        "/api/v1/studies/{study_id}/",
        "/api/v1/studies/{study_id}/report.pdf",
        "/api/v1/auth/signup/",
        "/api/v1/auth/token/",
    ]:
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/v1/studies/"]
    assert "delete" in schema["paths"]["/api/v1/studies/{study_id}/"]
