"""The review services (radiology.review), the signed PDF and the review pages."""
import io
from pathlib import Path

import pypdf
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import user_create
from lesions_project.errors import ApplicationError
from radiology import review
from radiology.models import Addendum, Label, Nodule, Report
from radiology.reports import render_signed_report_pdf
from studies.models import Artifact, AuditEvent, Study
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def stored_pdf(study: Study) -> bytes:
    artifact = Artifact.objects.get(study=study, kind=Artifact.Kind.REPORT_PDF)
    with artifact.file.open("rb") as handle:
        return handle.read()


@pytest.fixture
def rita(users) -> User:
    users.radiologist.first_name, users.radiologist.last_name = "Rita", "Rad"
    users.radiologist.save()
    return users.radiologist


@pytest.fixture
def ralph(db) -> User:
    return user_create(username="ralph", password=PASSWORD, role=User.Role.RADIOLOGIST)


@pytest.fixture
def admin(db) -> User:
    return user_create(username="ada", password=PASSWORD, role=User.Role.ADMIN)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# claiming and releasing

def test_claim_marks_the_study_in_review_and_audits(rita, radiology_studies):
    study = review.study_claim(user=rita, study=radiology_studies.xray)
    assert study.review == Study.Review.IN_REVIEW and study.claimed_by == rita and study.claimed_at
    assert AuditEvent.objects.filter(study_id=study.id, action="claimed", username="rita").count() == 1
    # claiming one's own claim again changes nothing
    assert review.study_claim(user=rita, study=radiology_studies.xray).claimed_at == study.claimed_at
    assert AuditEvent.objects.filter(study_id=study.id, action="claimed").count() == 1


def test_second_claimant_loses_the_race_even_with_a_stale_copy(rita, ralph, radiology_studies):
    stale = Study.objects.get(id=radiology_studies.xray.id)  # both loaded it while awaiting
    review.study_claim(user=rita, study=radiology_studies.xray)
    with pytest.raises(ApplicationError, match="Rita Rad is reviewing this study"):
        review.study_claim(user=ralph, study=stale)
    assert Study.objects.get(id=stale.id).claimed_by == rita


def test_patients_and_clinicians_may_not_claim(users, radiology_studies):
    for user in (users.patient_a, users.clinician):
        with pytest.raises(PermissionDenied):
            review.study_claim(user=user, study=radiology_studies.xray)
    assert Study.objects.get(id=radiology_studies.xray.id).review == Study.Review.AWAITING


def test_release_by_the_claimant_or_an_admin_only(rita, ralph, admin, radiology_studies):
    xray = radiology_studies.xray
    review.study_claim(user=rita, study=xray)
    with pytest.raises(ApplicationError, match="Rita Rad"):
        review.study_release(user=ralph, study=xray)
    released = review.study_release(user=rita, study=xray)
    assert released.review == Study.Review.AWAITING and released.claimed_by is None and released.claimed_at is None
    with pytest.raises(ApplicationError, match="not claimed"):
        review.study_release(user=rita, study=xray)
    review.study_claim(user=ralph, study=xray)
    assert review.study_release(user=admin, study=xray).review == Study.Review.AWAITING
    assert AuditEvent.objects.filter(study_id=xray.id, action="released").count() == 2


# signing

def test_sign_agreeing_with_the_ai(rita, radiology_studies):
    xray = radiology_studies.xray
    review.study_claim(user=rita, study=xray)
    report = review.report_sign(user=rita, study=xray, agree=True, impression="  Right lower lobe consolidation.  ")
    assert report.impression == "Right lower lobe consolidation."
    assert report.radiologist_name == "Rita Rad" and report.agree and report.corrected_class == ""
    snapshot = report.ai_findings
    assert snapshot["ai_class"] == "bacterial" and snapshot["top_class"] == "pneumonia"
    assert snapshot["probabilities"]["pneumonia"] == pytest.approx(0.91)
    assert snapshot["classes"][0] == {"code": "pneumonia", "probability": pytest.approx(0.91), "threshold": 0.578}
    assert snapshot["urgency"] == Study.Urgency.URGENT
    assert snapshot["not_installed"] == ["lung-opacity", "lung-opacity-boxes"]
    assert {"name": "pneumonia", "version": "1.0.0"} in snapshot["models"]
    label = Label.objects.get(study=xray)
    assert (label.task, label.value, label.ai_value, label.agreed, label.report) == (
        "chest-xray", "bacterial", "bacterial", True, report)
    xray.refresh_from_db()
    assert xray.review == Study.Review.SIGNED
    text = pdf_text(stored_pdf(xray))
    for expected in ("Radiology report", "Right lower lobe consolidation.", "Jane Roe", "PID-0001",
                     "Rita Rad", "Bacterial pneumonia", "not a diagnosis", "lung-opacity-boxes", str(xray.id)):
        assert expected in text
    assert AuditEvent.objects.filter(study_id=xray.id, action="signed").count() == 1


def test_sign_correcting_the_ai_claims_an_unclaimed_study(ralph, radiology_studies):
    ct = radiology_studies.ct
    report = review.report_sign(user=ralph, study=ct, agree=False, corrected_class="nodule-malignant",
                                impression="Spiculated nodule, right upper lobe.")
    ct.refresh_from_db()
    assert ct.review == Study.Review.SIGNED and ct.claimed_by == ralph
    assert report.radiologist_name == "ralph"  # no full name: the user name
    label = Label.objects.get(study=ct)
    assert (label.task, label.value, label.ai_value, label.agreed) == ("chest-ct", "nodule-malignant", "", False)
    assert "Nodule, suspicious for malignancy" in pdf_text(stored_pdf(ct))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"agree": True, "impression": ""}, "impression"),
    ({"agree": True, "impression": "   \n "}, "impression"),
    ({"agree": False, "impression": "Fine.", "corrected_class": ""}, "corrected_class"),
    ({"agree": False, "impression": "Fine.", "corrected_class": "melanoma"}, "corrected_class"),
])
def test_sign_validation_errors(rita, radiology_studies, kwargs, field):
    with pytest.raises(ValidationError) as error:
        review.report_sign(user=rita, study=radiology_studies.xray, **kwargs)
    assert field in error.value.message_dict
    assert not Report.objects.exists() and not Label.objects.exists()
    assert Study.objects.get(id=radiology_studies.xray.id).review == Study.Review.AWAITING


def test_agreeing_needs_an_ai_finding(rita, radiology_studies):
    with pytest.raises(ValidationError) as error:
        review.report_sign(user=rita, study=radiology_studies.ct, agree=True, impression="Normal.")
    assert "no AI finding to agree with" in error.value.message_dict["agree"][0]


def test_signing_twice_or_someone_elses_claim_is_a_conflict(rita, ralph, radiology_studies):
    review.study_claim(user=rita, study=radiology_studies.xray)
    with pytest.raises(ApplicationError, match="Rita Rad is reviewing"):
        review.report_sign(user=ralph, study=radiology_studies.xray, agree=True, impression="Mine.")
    review.report_sign(user=rita, study=radiology_studies.xray, agree=True, impression="First.")
    for user in (rita, ralph):
        with pytest.raises(ApplicationError, match="already signed; add an addendum"):
            review.report_sign(user=user, study=radiology_studies.xray, agree=True, impression="Second.")
    assert Report.objects.get().impression == "First."
    assert Artifact.objects.filter(kind=Artifact.Kind.REPORT_PDF).count() == 1


def test_signing_replaces_an_earlier_pdf(rita, radiology_studies, django_capture_on_commit_callbacks, settings):
    xray = radiology_studies.xray
    earlier = Artifact(study=xray, kind=Artifact.Kind.REPORT_PDF)
    earlier.file.save("report.pdf", io.BytesIO(b"%PDF-pre-read"), save=True)
    earlier_path = Path(earlier.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        review.report_sign(user=rita, study=xray, agree=True, impression="Consolidation.")
    assert not earlier_path.exists()
    assert stored_pdf(xray).startswith(b"%PDF") and b"pre-read" not in stored_pdf(xray)


def test_a_failed_signing_leaves_no_file_and_no_rows(rita, radiology_studies, monkeypatch, settings):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Label.objects, "create", broken)
    before = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError):
        review.report_sign(user=rita, study=radiology_studies.xray, agree=True, impression="Consolidation.")
    assert {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()} == before
    assert not Report.objects.exists()
    assert Study.objects.get(id=radiology_studies.xray.id).review == Study.Review.AWAITING


# the report is final; addenda follow it

def test_report_save_refuses_an_update(rita, radiology_studies):
    report = review.report_sign(user=rita, study=radiology_studies.xray, agree=True, impression="Original.")
    report.impression = "Changed."
    with pytest.raises(ValueError, match="final"):
        report.save()
    assert Report.objects.get().impression == "Original."


def test_addendum_keeps_the_report_and_extends_the_pdf(rita, ralph, radiology_studies):
    xray = radiology_studies.xray
    report = review.report_sign(user=rita, study=xray, agree=True, impression="Consolidation, right base.")
    before = model_to_dict(Report.objects.get(id=report.id))
    addendum = review.report_add_addendum(user=ralph, study=xray, text="  Compared with the prior film: new.  ")
    assert addendum.text == "Compared with the prior film: new." and addendum.author_name == "ralph"
    assert model_to_dict(Report.objects.get(id=report.id)) == before
    text = pdf_text(stored_pdf(xray))
    assert "Consolidation, right base." in text and "Compared with the prior film: new." in text
    assert "Addenda" in text and "ralph" in text and "Rita Rad" in text
    review.report_add_addendum(user=rita, study=xray, text="Second thought.")
    text = pdf_text(stored_pdf(xray))
    assert "Compared with the prior film: new." in text and "Second thought." in text
    assert Artifact.objects.filter(study=xray, kind=Artifact.Kind.REPORT_PDF).count() == 1
    assert AuditEvent.objects.filter(study_id=xray.id, action="addendum").count() == 2


def test_addendum_needs_a_signed_report_and_text(rita, radiology_studies, users):
    with pytest.raises(ApplicationError, match="Only a signed report"):
        review.report_add_addendum(user=rita, study=radiology_studies.xray, text="Too early.")
    review.report_sign(user=rita, study=radiology_studies.xray, agree=True, impression="Done.")
    with pytest.raises(ValidationError) as error:
        review.report_add_addendum(user=rita, study=radiology_studies.xray, text="  ")
    assert "text" in error.value.message_dict
    with pytest.raises(PermissionDenied):
        review.report_add_addendum(user=users.patient_a, study=radiology_studies.xray, text="Hello.")
    assert not Addendum.objects.exists()


# the PDF

def test_radiology_pdf_of_a_ct_with_nodules_and_previews(rita, radiology_studies):
    ct = radiology_studies.ct
    Nodule.objects.create(study=ct, marked_by=rita, z=1, y=4, x=5, status=Nodule.Status.DONE,
                          probability=0.734, threshold=0.5)
    report = Report(study=ct, radiologist=rita, radiologist_name="Rita Rad", agree=False,
                    corrected_class="nodule-malignant", impression="Nodule in the right upper lobe.",
                    ai_findings=review.ai_findings_snapshot(ct, ct.result), signed_at=ct.created_at)
    data = render_signed_report_pdf(study=ct, report=report)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in ("Nodule in the right upper lobe.", "John Doe", "PID-0002", "067Y", "CT series",
                     "Chest low dose", "73.4 %", "ct-pathology", "Corrects the AI finding to",
                     "Axial", "Coronal", "Sagittal", "Montage"):
        assert expected in text, expected
    images = sum(len(page.images) for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert images == 4


# the pages

def test_review_page_flow(rita, radiology_studies):
    client = logged_in(rita)
    xray = radiology_studies.xray
    url = reverse("radiology:review", kwargs={"study_id": xray.id})
    html = client.get(url).content.decode()
    assert "Jane Roe" in html and "Bacterial pneumonia" in html and "Claim for review" in html
    assert "lung-opacity-boxes" in html  # not installed
    assert AuditEvent.objects.filter(study_id=xray.id, action="viewed", username="rita").exists()

    assert client.post(reverse("radiology:claim", kwargs={"study_id": xray.id})).status_code == 302
    html = client.get(url).content.decode()
    assert "Sign the report" in html and "Release" in html

    response = client.post(reverse("radiology:sign", kwargs={"study_id": xray.id}),
                           {"agree": "no", "corrected_class": "", "impression": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Write the impression." in html and "Choose the finding from the list." in html

    response = client.post(reverse("radiology:sign", kwargs={"study_id": xray.id}),
                           {"agree": "no", "corrected_class": "viral", "impression": "Viral pattern."})
    assert response.status_code == 302
    assert Label.objects.get(study=xray).value == "viral"
    html = client.get(url).content.decode()
    assert "Signed report" in html and "Viral pattern." in html
    assert reverse("studies:study_file", kwargs={"study_id": xray.id, "kind": "report.pdf"}) in html

    response = client.post(reverse("radiology:addendum", kwargs={"study_id": xray.id}), {"text": "Follow up."})
    assert response.status_code == 302
    assert "Follow up." in client.get(url).content.decode()


def test_review_page_shows_conflicts_as_messages(rita, ralph, radiology_studies):
    review.study_claim(user=rita, study=radiology_studies.xray)
    client = logged_in(ralph)
    response = client.post(reverse("radiology:claim", kwargs={"study_id": radiology_studies.xray.id}), follow=True)
    assert "Rita Rad is reviewing this study." in response.content.decode()
    assert "Sign the report" not in response.content.decode()


def test_review_pages_refuse_others(users, radiology_studies, client):
    xray = radiology_studies.xray
    url = reverse("radiology:review", kwargs={"study_id": xray.id})
    assert logged_in(users.clinician).get(url).status_code == 403  # their own study: seen, not reviewed
    assert logged_in(users.patient_a).get(url).status_code == 404  # not theirs
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for name in ("claim", "release", "sign", "addendum"):
        action = reverse(f"radiology:{name}", kwargs={"study_id": xray.id})
        assert logged_in(users.clinician).post(action).status_code == 403
        assert logged_in(users.patient_a).post(action).status_code == 404
    assert Study.objects.get(id=xray.id).review == Study.Review.AWAITING
