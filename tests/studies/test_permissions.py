"""One patient must never see another's study, through any door."""
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_create
from studies import selectors
from studies.models import Study
from tests import images

pytestmark = pytest.mark.django_db


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("route", [
    ("studies:study_detail", {}),
    ("studies:study_status", {}),
    ("studies:study_delete", {}),
    ("studies:study_file", {"kind": "upload"}),
    ("studies:study_file", {"kind": "outline"}),
    ("studies:study_file", {"kind": "report.pdf"}),
    ("studies-api:study-detail", {}),
    ("studies-api:study-report", {}),
    ("studies-api:study-file", {"kind": "upload"}),
])
def test_other_patient_gets_404_everywhere(client_b, users, analysed_study, route):
    name, extra = route
    url = reverse(name, kwargs={"study_id": analysed_study.id, **extra})
    client = api_client(users.patient_b) if "-api:" in name else client_b
    assert client.get(url).status_code == 404


def test_other_patient_cannot_delete(client_b, users, analysed_study):
    web = client_b.post(reverse("studies:study_delete", kwargs={"study_id": analysed_study.id}))
    api = api_client(users.patient_b).delete(reverse("studies-api:study-detail", kwargs={"study_id": analysed_study.id}))
    assert web.status_code == 404 and api.status_code == 404
    assert Study.objects.filter(id=analysed_study.id).exists()


def test_lists_show_only_own_studies(client_a, client_b, users, analysed_study):
    assert str(analysed_study.id) in client_a.get(reverse("studies:study_list")).content.decode()
    assert str(analysed_study.id) not in client_b.get(reverse("studies:study_list")).content.decode()
    assert api_client(users.patient_b).get(reverse("studies-api:study-list")).json()["count"] == 0
    assert api_client(users.patient_a).get(reverse("studies-api:study-list")).json()["count"] == 1


def test_radiologist_sees_radiology_studies_but_not_skin_photos(users, analysed_study):
    xray = Study.objects.create(owner=users.patient_b, kind=Study.Kind.CHEST_XRAY)
    ct = Study.objects.create(owner=users.patient_b, kind=Study.Kind.CT)
    visible = set(selectors.studies_visible_to(user=users.radiologist))
    assert visible == {xray, ct}
    client = Client()
    client.force_login(users.radiologist)
    assert client.get(reverse("studies:study_detail", kwargs={"study_id": analysed_study.id})).status_code == 404
    assert client.get(reverse("studies:study_detail", kwargs={"study_id": xray.id})).status_code == 200
    # patients still see only their own radiology studies
    assert set(selectors.studies_visible_to(user=users.patient_a)) == {analysed_study}


def test_admin_role_and_superuser_see_everything(users, analysed_study):
    other = Study.objects.create(owner=users.patient_b, kind=Study.Kind.CT)
    admin = user_create(username="ada", password="a-long-Password-123", role=User.Role.ADMIN)
    superuser = user_create(username="root", password="a-long-Password-123", superuser=True)
    assert set(selectors.studies_visible_to(user=admin)) == {analysed_study, other}
    assert set(selectors.studies_visible_to(user=superuser)) == {analysed_study, other}


def test_anonymous_sees_nothing(client, analysed_study):
    assert not selectors.studies_visible_to(user=AnonymousUser()).exists()
    response = client.get(reverse("studies:study_file", kwargs={"study_id": analysed_study.id, "kind": "upload"}))
    assert response.status_code == 404  # a file URL never redirects to the login page
    assert APIClient().get(reverse("studies-api:study-detail", kwargs={"study_id": analysed_study.id})).status_code == 401


def test_uploads_are_owned_by_the_uploader(users):
    client = api_client(users.patient_b)
    response = client.post(
        reverse("studies-api:study-list"),
        {"kind": "skin_photo", "file": SimpleUploadedFile("a.jpg", images.jpeg_bytes(), "image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 201
    assert Study.objects.get(id=response.json()["id"]).owner == users.patient_b
