"""A photo or film the models' input gate refuses ends `not_assessable`: no class, no
urgency advice, no heatmap anywhere; the reasons and what to do on the page, in the PDF
and the API. Test-made weights with a gate whose limits the test sets."""
import io
import shutil
from pathlib import Path

import pypdf
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from studies import services
from studies.analysis import run
from studies.models import Artifact, Study
from tests.conftest import photo_upload
from tests.ml.model_fixtures import write_test_gate, write_test_weights
from tests.studies.test_analysis import SHIPPED_WEIGHTS, analysed, chest, sent


@pytest.fixture
def gated_weights(settings, tmp_path) -> Path:
    """Test skin models whose gate refuses dark photos (mean grey level under 0.2)."""
    folder = tmp_path / "weights"
    write_test_weights(folder)
    write_test_gate(folder, {"min_brightness": 0.2, "max_brightness": 0.95})
    settings.ML_WEIGHTS_DIR = folder
    return folder


def jpeg(colour, size=(160, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def uploaded(users, data: bytes, django_capture_on_commit_callbacks, language="en") -> Study:
    with django_capture_on_commit_callbacks(execute=False):
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO,
                                      upload=photo_upload(data), language=language)
    run.analyse_study(study_id=study.id)
    study.refresh_from_db()
    return study


def pdf_text(study: Study) -> str:
    artifact = study.artifacts.get(kind=Artifact.Kind.REPORT_PDF)
    with artifact.file.open("rb") as handle:
        reader = pypdf.PdfReader(io.BytesIO(handle.read()))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.mark.django_db
def test_a_dark_photo_is_not_assessable_with_its_reason_everywhere(users, gated_weights, client_a,
                                                                   django_capture_on_commit_callbacks):
    study = uploaded(users, jpeg((8, 6, 5)), django_capture_on_commit_callbacks)
    assert study.status == Study.Status.NOT_ASSESSABLE and study.is_finished
    assert study.result.top_class == "" and study.result.probabilities == {}
    assert study.result.findings["gate"]["reasons"] == ["too_dark"]
    assert study.result.findings["gate"]["scores"]["brightness"] < 0.2
    assert {a.kind for a in study.artifacts.all()} == {Artifact.Kind.REPORT_PDF}  # no outline, no heatmap

    page = client_a.get(reverse("studies:study_detail", kwargs={"study_id": study.id})).content.decode()
    assert "Not assessable" in page and "The photo is too dark." in page and "daylight" in page
    assert "Most likely" not in page and "heatmap" not in page.lower()
    assert "skin-classifier 0.0.0-test" in page  # which model refused it, and its version
    listing = client_a.get(reverse("studies:study_list")).content.decode()
    assert "The model cannot judge this photo" in listing

    text = pdf_text(study)
    assert "Not assessable" in text and "too dark" in text and "Most likely class" not in text

    api = APIClient()
    api.force_authenticate(users.patient_a)
    body = api.get(reverse("studies-api:study-detail", kwargs={"study_id": study.id})).json()
    assert body["status"] == "not_assessable" and body["assessable"] is False and body["result"] is None
    assert [r["code"] for r in body["reasons"]] == ["too_dark"]
    assert body["reasons"][0]["message"] == "The photo is too dark." and body["reasons"][0]["advice"]
    assert body["urls"]["heatmap"] is None and body["urls"]["outline"] is None and body["urls"]["report"]


@pytest.mark.django_db
def test_the_reasons_are_in_the_readers_language(users, gated_weights, django_capture_on_commit_callbacks):
    study = uploaded(users, jpeg((8, 6, 5)), django_capture_on_commit_callbacks, language="ru")
    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    client.force_login(users.patient_a)
    page = client.get(reverse("studies:study_detail", kwargs={"study_id": study.id})).content.decode()
    assert "Не поддаётся оценке" in page and "Фото слишком тёмное." in page
    assert "Фото слишком тёмное." in pdf_text(study)


@pytest.mark.django_db
def test_a_photo_within_the_limits_gets_its_result(users, gated_weights, django_capture_on_commit_callbacks):
    study = uploaded(users, jpeg((200, 150, 120)), django_capture_on_commit_callbacks)
    assert study.status == Study.Status.DONE and study.result.top_class
    assert study.result.findings["gate"] == {"assessable": True, "reasons": [],
                                             "scores": study.result.findings["gate"]["scores"]}
    api = APIClient()
    api.force_authenticate(users.patient_a)
    body = api.get(reverse("studies-api:study-detail", kwargs={"study_id": study.id})).json()
    assert body["assessable"] is True and body["reasons"] == [] and body["result"]["top_class"]


@pytest.mark.django_db
def test_a_film_the_xray_gate_refuses_is_read_without_an_ai_finding(users, settings, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(SHIPPED_WEIGHTS / "pneumonia", weights / "pneumonia")
    write_test_gate(weights, {"max_distance": 0.0}, name="pneumonia",  # every film is too far
                    distance_reason="not_a_chest_radiograph")
    settings.ML_WEIGHTS_DIR = weights
    study = analysed(sent(users.clinician, Study.Kind.CHEST_XRAY, [chest(tmp_path)]))
    assert study.status == Study.Status.NOT_ASSESSABLE and study.urgency == Study.Urgency.NOT_ASSESSED
    assert study.result.findings["gate"]["reasons"] == ["not_a_chest_radiograph"]
    assert {a.kind for a in study.artifacts.all()} == {Artifact.Kind.IMAGE}  # the film, for the radiologist
    client = Client()
    client.force_login(users.radiologist)
    page = client.get(reverse("radiology:review", kwargs={"study_id": study.id})).content.decode()
    assert "Not assessable by the AI" in page and "frontal chest X-ray" in page
    assert "heatmap-url" not in page
