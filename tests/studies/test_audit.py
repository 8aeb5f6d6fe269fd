"""The audit trail of the review workflow, and the admin that shows it (read-only)."""
import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import user_create
from radiology.models import Report
from studies.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(user_create(username="root", password=PASSWORD, role=User.Role.ADMIN, superuser=True))
    return client


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewed(users, radiology_studies):
    """Rita opens, claims, signs, downloads and adds to the X-ray's report, through the pages."""
    study = radiology_studies.xray
    client = logged_in(users.radiologist)
    kwargs = {"study_id": study.id}
    assert client.get(reverse("radiology:review", kwargs=kwargs), REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.post(reverse("radiology:claim", kwargs=kwargs)).status_code == 302
    assert client.post(reverse("radiology:sign", kwargs=kwargs),
                       {"agree": "yes", "impression": "Consolidation."}).status_code == 302
    assert client.get(reverse("studies:study_file", kwargs={**kwargs, "kind": "report.pdf"})).status_code == 200
    assert client.post(reverse("radiology:addendum", kwargs=kwargs), {"text": "Later."}).status_code == 302
    return study


def test_each_step_is_recorded(reviewed):
    events = AuditEvent.objects.filter(study_id=reviewed.id, username="rita").order_by("at", "id")
    assert [event.action for event in events] == ["viewed", "claimed", "signed", "downloaded", "addendum"]
    assert events[0].ip_address == "10.1.2.3"
    assert all(event.user is not None for event in events)


def test_audit_admin_lists_filters_and_searches(admin_client, reviewed, users):
    url = reverse("admin:diagnosis_auditevent_changelist")
    html = admin_client.get(url).content.decode()
    assert str(reviewed.id) in html and "rita" in html and "added an addendum" in html
    assert admin_client.get(url, {"action__exact": "signed"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "rita"}).context["cl"].result_count == 5
    assert admin_client.get(url, {"q": str(reviewed.id)}).context["cl"].result_count >= 5
    assert admin_client.get(url, {"q": "nobody"}).context["cl"].result_count == 0


def test_audit_admin_is_read_only(admin_client, reviewed):
    event = AuditEvent.objects.filter(study_id=reviewed.id).first()
    assert admin_client.get(reverse("admin:diagnosis_auditevent_add")).status_code == 403
    change = admin_client.get(reverse("admin:diagnosis_auditevent_change", args=[event.id]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert admin_client.post(reverse("admin:diagnosis_auditevent_delete", args=[event.id]),
                             {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(id=event.id).exists()


def test_report_admin_is_view_only_with_its_addenda(admin_client, reviewed):
    report = Report.objects.get(study=reviewed)
    html = admin_client.get(reverse("admin:radiology_report_change", args=[report.id])).content.decode()
    assert "Consolidation." in html and "Later." in html
    assert 'name="_save"' not in html and 'name="impression"' not in html
    assert admin_client.post(reverse("admin:radiology_report_change", args=[report.id]),
                             {"impression": "Changed."}).status_code == 403
    assert admin_client.post(reverse("admin:radiology_report_delete", args=[report.id]),
                             {"post": "yes"}).status_code == 403
    assert Report.objects.get(id=report.id).impression == "Consolidation."


def test_study_admin_shows_the_review(admin_client, reviewed):
    url = reverse("admin:diagnosis_study_changelist")
    html = admin_client.get(url, {"review__exact": "signed"}).content.decode()
    assert str(reviewed.id) in html and "Jane Roe" in html and "PID-0001" in html
    assert admin_client.get(url, {"q": "PID-0001"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"urgency__exact": "30", "review__exact": "awaiting"}).context["cl"].result_count == 0
    html = admin_client.get(reverse("admin:diagnosis_study_change", args=[reviewed.id])).content.decode()
    assert 'name="patient_name"' not in html  # read-only
