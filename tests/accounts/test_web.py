import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_logs_in_and_lands_on_the_study_list(client):
    response = client.post(reverse("signup"), {
        "username": "newpatient", "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD,
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("studies:study_list")
    user = User.objects.get(username="newpatient")
    assert user.role == User.Role.PATIENT and not user.is_staff
    assert client.get(reverse("studies:study_list")).status_code == 200


def test_signup_rejects_a_weak_password(client):
    response = client.post(reverse("signup"), {"username": "weak", "password1": "123", "password2": "123"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "This password is too short" in html
    assert not User.objects.filter(username="weak").exists()


def test_login_and_logout(client, users):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("studies:study_list")
    assert client.get(reverse("logout")).status_code == 405  # logging out needs a POST
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("studies:study_list")).status_code == 302  # back to the login page


def test_password_change(client_a, users):
    response = client_a.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "another-Long-pass-456", "new_password2": "another-Long-pass-456",
    })
    assert response.status_code == 302
    users.patient_a.refresh_from_db()
    assert users.patient_a.check_password("another-Long-pass-456")


def test_password_reset_by_email(client, users):
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    response = client.post(form_page.redirect_chain[-1][0], {
        "new_password1": "brand-New-pass-789", "new_password2": "brand-New-pass-789",
    })
    assert response.status_code == 302
    users.patient_a.refresh_from_db()
    assert users.patient_a.check_password("brand-New-pass-789")


@pytest.mark.parametrize("name", ["home", "login", "signup", "password_reset", "password_reset_done", "password_reset_complete"])
def test_public_pages_render_with_viewport_and_language_switcher(client, name):
    response = client.get(reverse(name))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert f'action="{reverse("set_language")}"' in html
    assert "https://" not in html and "http://" not in html  # nothing fetched from the internet
