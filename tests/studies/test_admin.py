import os

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import user_create
from studies.models import Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, users):
    admin = user_create(username="ada", password="a-long-Password-123", role=User.Role.ADMIN, superuser=True)
    client.force_login(admin)
    return client


def test_study_admin_lists_filters_and_searches(admin_client, analysed_study):
    url = reverse("admin:diagnosis_study_changelist")
    assert str(analysed_study.id) in admin_client.get(url).content.decode()
    assert str(analysed_study.id) in admin_client.get(url, {"q": "mole.jpg"}).content.decode()
    assert str(analysed_study.id) in admin_client.get(url, {"q": "alice"}).content.decode()
    assert str(analysed_study.id) not in admin_client.get(url, {"q": "bob"}).content.decode()
    assert str(analysed_study.id) in admin_client.get(url, {"status__exact": "done", "kind__exact": "skin_photo"}).content.decode()


def test_study_admin_shows_results_read_only(admin_client, analysed_study):
    html = admin_client.get(reverse("admin:diagnosis_study_change", args=[analysed_study.id])).content.decode()
    assert analysed_study.result.top_class in html
    assert "mole.jpg" in html
    assert 'name="result-0-top_class"' not in html  # not editable


def test_study_admin_delete_removes_files(admin_client, analysed_study, django_capture_on_commit_callbacks):
    photo_path = analysed_study.upload.file.path
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:diagnosis_study_delete", args=[analysed_study.id]), {"post": "yes"})
    assert response.status_code == 302
    assert not Study.objects.filter(id=analysed_study.id).exists()
    assert not os.path.exists(photo_path)


def test_user_admin_filters_by_role(admin_client, users):
    url = reverse("admin:accounts_user_changelist")
    html = admin_client.get(url, {"role__exact": "radiologist"}).content.decode()
    assert "rita" in html and "alice" not in html
    assert "bob" in admin_client.get(url, {"q": "bob@example.com"}).content.decode()


def test_admin_role_set_in_the_admin_gets_staff(admin_client, users):
    bob = users.patient_b
    response = admin_client.post(reverse("admin:accounts_user_change", args=[bob.id]), {
        "username": "bob", "email": "bob@example.com", "role": "admin", "is_active": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    bob.refresh_from_db()
    assert bob.role == User.Role.ADMIN and bob.is_staff
