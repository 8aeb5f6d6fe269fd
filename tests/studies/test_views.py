import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from studies.models import Study, StudyFile
from tests import images
from tests.conftest import photo_upload

pytestmark = pytest.mark.django_db

BAD_UPLOADS = images.bad_uploads()


def detail_url(study) -> str:
    return reverse("studies:study_detail", kwargs={"study_id": study.id})


def file_url(study, kind: str) -> str:
    return reverse("studies:study_file", kwargs={"study_id": study.id, "kind": kind})


def test_pages_need_login(client):
    response = client.get(reverse("studies:study_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_upload_page_offers_the_phone_camera(client_a):
    response = client_a.get(reverse("studies:study_new"))
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<input[^>]*type="file"[^>]*name="file"', html)
    assert 'accept="image/*"' in html
    assert 'capture="environment"' in html
    assert 'enctype="multipart/form-data"' in html


def test_upload_creates_a_study_and_redirects_to_it(client_a, users):
    response = client_a.post(reverse("studies:study_new"), {"file": photo_upload(name="arm.jpg")})
    study = Study.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(study)
    assert study.owner == users.patient_a
    assert study.kind == Study.Kind.SKIN_PHOTO
    assert study.upload.original_name == "arm.jpg"


def test_upload_records_the_request_language(client_a):
    client_a.post(reverse("studies:study_new"), {"file": photo_upload()}, HTTP_ACCEPT_LANGUAGE="ru")
    assert Study.objects.get().language == "ru"


@pytest.mark.parametrize(("name", "data", "message"), BAD_UPLOADS, ids=[name for name, _, _ in BAD_UPLOADS])
def test_bad_upload_shows_the_reason_and_creates_nothing(client_a, settings, name, data, message):
    response = client_a.post(reverse("studies:study_new"), {"file": photo_upload(data, name=name)})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Study.objects.count() == 0 and StudyFile.objects.count() == 0
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.*"))


def test_upload_without_a_file_asks_for_one(client_a):
    response = client_a.post(reverse("studies:study_new"), {})
    assert "Please choose a photo." in response.content.decode()


def test_list_shows_own_studies(client_a, analysed_study):
    response = client_a.get(reverse("studies:study_list"))
    html = response.content.decode()
    assert detail_url(analysed_study) in html
    assert "Done" in html
    assert "mole.jpg" in html


def test_pending_study_page_polls_with_translated_stage_labels(client_a, queued_study):
    response = client_a.get(detail_url(queued_study))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Waiting in the queue" in html
    assert reverse("studies:study_status", kwargs={"study_id": queued_study.id}) in html
    assert "js/study_status.js" in html
    labels = json.loads(re.search(r'<script id="study-stage-labels" type="application/json">(.*?)</script>', html).group(1))
    assert labels["classification"] == "Classifying"
    assert labels["gradcam"] == "Computing the heatmap"


def test_pending_study_page_in_russian(client_a, queued_study):
    html = client_a.get(detail_url(queued_study), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    labels = json.loads(re.search(r'<script id="study-stage-labels" type="application/json">(.*?)</script>', html).group(1))
    assert labels["classification"] == "Классификация"


def test_status_json(client_a, queued_study):
    Study.objects.filter(id=queued_study.id).update(status=Study.Status.PROCESSING, stage="segmentation")
    response = client_a.get(reverse("studies:study_status", kwargs={"study_id": queued_study.id}))
    assert response.status_code == 200
    assert response.json() == {"status": "processing", "stage": "segmentation", "finished": False}
    assert "no-cache" in response["Cache-Control"]


def test_done_study_page_shows_the_result(client_a, analysed_study):
    result = analysed_study.result
    html = client_a.get(detail_url(analysed_study)).content.decode()
    assert "js/study_status.js" not in html  # nothing left to wait for
    assert html.count('class="bar-row') == 7
    for name in ["Melanoma", "Melanocytic nevus (mole)", "Basal cell carcinoma", "Dermatofibroma"]:
        assert name in html
    assert ("See a dermatologist soon (within two weeks)" in html) or ("Likely benign; monitor it" in html)
    assert "This is decision support produced by a computer model, not a diagnosis. Please see a doctor." in html
    assert "Lesion share of the image" in html
    assert "skin-classifier" in html and "0.0.0-test" in html
    for kind in ["upload", "outline", "heatmap", "report.pdf"]:
        assert file_url(analysed_study, kind) in html
    top_percent = f"{result.top_probability * 100:.1f} %"
    assert top_percent in html


def test_failed_study_page_shows_the_reason(client_a, queued_study):
    Study.objects.filter(id=queued_study.id).update(status=Study.Status.FAILED, failure_reason="The file is empty.")
    html = client_a.get(detail_url(queued_study)).content.decode()
    assert "The file is empty." in html
    assert "js/study_status.js" not in html


@pytest.mark.parametrize(("kind", "content_type", "magic"), [
    ("upload", "image/jpeg", b"\xff\xd8"),
    ("outline", "image/jpeg", b"\xff\xd8\xff"),
    ("heatmap", "image/jpeg", b"\xff\xd8\xff"),
    ("report.pdf", "application/pdf", b"%PDF"),
])
def test_files_are_served_to_the_owner(client_a, analysed_study, kind, content_type, magic):
    response = client_a.get(file_url(analysed_study, kind))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert b"".join(response.streaming_content).startswith(magic)
    assert "private" in response["Cache-Control"]


def test_unknown_file_kind_is_404(client_a, analysed_study):
    assert client_a.get(file_url(analysed_study, "secrets")).status_code == 404


def test_artifacts_of_a_pending_study_are_404(client_a, queued_study):
    assert client_a.get(file_url(queued_study, "outline")).status_code == 404
    assert client_a.get(file_url(queued_study, "upload")).status_code == 200


def test_media_has_no_public_url(client_a, analysed_study):
    name = analysed_study.upload.file.name
    assert client_a.get("/media/" + name).status_code == 404
    assert client_a.get("/" + name).status_code == 404


def test_files_can_be_handed_to_nginx(client_a, analysed_study, settings):
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = "/protected/"
    response = client_a.get(file_url(analysed_study, "outline"))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected/" + analysed_study.artifacts.get(kind="outline").file.name
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == b""


def test_delete_asks_for_confirmation_then_deletes(client_a, analysed_study, settings, django_capture_on_commit_callbacks):
    url = reverse("studies:study_delete", kwargs={"study_id": analysed_study.id})
    confirm = client_a.get(url)
    assert confirm.status_code == 200 and 'method="post"' in confirm.content.decode()
    assert Study.objects.filter(id=analysed_study.id).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("studies:study_list")
    assert not Study.objects.filter(id=analysed_study.id).exists()
    assert not any(path.is_file() for path in Path(settings.MEDIA_ROOT).rglob("*"))
