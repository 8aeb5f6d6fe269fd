"""The review API: /api/v1/worklist/ and the claim, release, sign and addenda actions."""
import io

import pypdf
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_create
from radiology.models import Label, Report
from studies.models import AuditEvent, Study
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(name: str, study: Study) -> str:
    namespace = "studies-api" if name == "study-report" else "radiology-api"
    return reverse(f"{namespace}:{name}", kwargs={"study_id": study.id})


@pytest.fixture
def ralph(db) -> User:
    return user_create(username="ralph", password=PASSWORD, role=User.Role.RADIOLOGIST)


def test_worklist(users, radiology_studies):
    response = api(users.radiologist).get(reverse("radiology-api:worklist"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["results"][0]
    assert first["id"] == str(radiology_studies.xray.id)  # urgent first
    assert first["urgency"] == Study.Urgency.URGENT and first["urgency_label"] == "Urgent"
    assert (first["ai_class"], first["ai_class_name"]) == ("bacterial", "Bacterial pneumonia")
    assert first["ai_top_probability"] == pytest.approx(0.91)
    assert first["patient_name"] == "Jane Roe" and first["claimed_by"] is None
    assert body["results"][1]["ai_class"] == "" and body["results"][1]["ai_top_probability"] is None


def test_worklist_filters(users, radiology_studies):
    client = api(users.radiologist)
    worklist = reverse("radiology-api:worklist")
    assert [r["kind"] for r in client.get(worklist, {"kind": "ct"}).json()["results"]] == ["ct"]
    client.post(url("study-claim", radiology_studies.ct))
    mine = client.get(worklist, {"mine": "true"}).json()["results"]
    assert [r["id"] for r in mine] == [str(radiology_studies.ct.id)] and mine[0]["claimed_by"] == "rita"
    assert client.get(worklist, {"review": "signed"}).json()["count"] == 0
    assert client.get(worklist, {"date_from": "2100-01-01"}).json()["count"] == 0
    assert client.get(worklist, {"date_to": "2100-01-01"}).json()["count"] == 2
    bad = client.get(worklist, {"review": "everything", "date_from": "yesterday"})
    assert bad.status_code == 400 and set(bad.json()) == {"review", "date_from"}


def test_worklist_refuses_non_reviewers(users):
    assert api(users.patient_a).get(reverse("radiology-api:worklist")).status_code == 403
    assert api(users.clinician).get(reverse("radiology-api:worklist")).status_code == 403
    assert api(None).get(reverse("radiology-api:worklist")).status_code in (401, 403)


def test_claim_race_and_release(users, ralph, radiology_studies):
    xray = radiology_studies.xray
    first = api(users.radiologist).post(url("study-claim", xray))
    assert first.status_code == 200
    assert first.json()["review"] == "in_review" and first.json()["claimed_by"] == "rita"
    second = api(ralph).post(url("study-claim", xray))
    assert second.status_code == 409 and second.json()["detail"] == "rita is reviewing this study."
    assert api(ralph).post(url("study-release", xray)).status_code == 409
    released = api(users.radiologist).post(url("study-release", xray))
    assert released.status_code == 200 and released.json() == {
        "id": str(xray.id), "review": "awaiting", "claimed_by": None, "claimed_at": None}
    assert api(ralph).post(url("study-claim", xray)).status_code == 200


def test_sign_and_addenda(users, ralph, radiology_studies):
    xray = radiology_studies.xray
    client = api(users.radiologist)
    assert client.post(url("study-claim", xray)).status_code == 200
    response = client.post(url("study-sign", xray), {"agree": True, "impression": "Consolidation."}, format="json")
    assert response.status_code == 201, response.json()
    report = response.json()
    assert report["study"] == str(xray.id) and report["radiologist"] == "rita" and report["agree"] is True
    assert report["impression"] == "Consolidation." and report["ai_findings"]["ai_class"] == "bacterial"
    assert report["addenda"] == []
    again = client.post(url("study-sign", xray), {"agree": True, "impression": "Again."}, format="json")
    assert again.status_code == 409 and "addendum" in again.json()["detail"]

    added = api(ralph).post(url("study-addenda", xray), {"text": "Seen by a second reader."}, format="json")
    assert added.status_code == 201 and added.json()["author"] == "ralph"
    assert api(ralph).post(url("study-addenda", xray), {"text": ""}, format="json").status_code == 400

    pdf = client.get(url("study-report", xray))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    data = b"".join(pdf.streaming_content)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "Consolidation." in text and "Seen by a second reader." in text
    assert AuditEvent.objects.filter(study_id=xray.id, action="downloaded", username="rita",
                                     detail="report.pdf").count() == 1


def test_sign_validation(users, radiology_studies):
    client = api(users.radiologist)
    cases = [
        ({"agree": True, "impression": "  "}, "impression"),
        ({"agree": False, "impression": "Nodule.", "corrected_class": "nonsense"}, "corrected_class"),
        ({"impression": "Nodule."}, "agree"),  # the serializer: required
    ]
    for body, field in cases:
        response = client.post(url("study-sign", radiology_studies.ct), body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.json())
    response = client.post(url("study-sign", radiology_studies.ct), {"agree": True, "impression": "Normal."},
                           format="json")
    assert response.status_code == 400
    assert response.json()["agree"] == ["There is no AI finding to agree with; choose the finding yourself."]
    assert not Report.objects.exists()
    response = client.post(url("study-sign", radiology_studies.ct),
                           {"agree": False, "corrected_class": "normal", "impression": "Normal."}, format="json")
    assert response.status_code == 201
    assert Label.objects.get().value == "normal"


def test_sign_of_a_study_claimed_by_someone_else_is_a_conflict(users, ralph, radiology_studies):
    api(ralph).post(url("study-claim", radiology_studies.xray))
    response = api(users.radiologist).post(url("study-sign", radiology_studies.xray),
                                           {"agree": True, "impression": "Mine."}, format="json")
    assert response.status_code == 409 and "ralph" in response.json()["detail"]


@pytest.mark.parametrize("name", ["study-claim", "study-release", "study-sign", "study-addenda"])
def test_actions_refuse_those_who_may_not_review(users, radiology_studies, name):
    body = {"agree": True, "impression": "x", "text": "x"}
    xray = radiology_studies.xray
    assert api(users.patient_a).post(url(name, xray), body, format="json").status_code == 404  # cannot see it
    assert api(users.clinician).post(url(name, xray), body, format="json").status_code == 403  # sent it
    assert api(None).post(url(name, xray), body, format="json").status_code in (401, 403)
    assert Study.objects.get(id=xray.id).review == Study.Review.AWAITING


def test_clinician_downloads_the_signed_report_only(users, radiology_studies):
    xray = radiology_studies.xray
    assert api(users.clinician).get(url("study-report", xray)).status_code == 404  # not signed yet
    api(users.radiologist).post(url("study-sign", xray), {"agree": True, "impression": "Clear."}, format="json")
    response = api(users.clinician).get(url("study-report", xray))
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")
    assert AuditEvent.objects.filter(study_id=xray.id, action="downloaded", username="carl").exists()


def test_schema_describes_the_review_api(users):
    response = api(users.radiologist).get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/worklist/", "/api/v1/studies/{study_id}/claim/", "/api/v1/studies/{study_id}/release/",
                 "/api/v1/studies/{study_id}/sign/", "/api/v1/studies/{study_id}/addenda/"):
        assert path in paths, path
    sign = paths["/api/v1/studies/{study_id}/sign/"]["post"]
    assert {"201", "403", "404", "409"} <= set(sign["responses"])
    assert {p["name"] for p in paths["/api/v1/worklist/"]["get"]["parameters"]} >= {
        "kind", "review", "mine", "date_from", "date_to", "page"}
