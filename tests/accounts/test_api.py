import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_returns_a_token_that_works():
    client = APIClient()
    response = client.post(reverse("accounts-api:signup"), {"username": "carol", "password": PASSWORD, "email": "c@example.com"}, format="json")
    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="carol")
    assert body == {"id": user.id, "username": "carol", "token": Token.objects.get(user=user).key}
    assert user.role == User.Role.PATIENT

    client.credentials(HTTP_AUTHORIZATION="Token " + body["token"])
    assert client.get(reverse("studies-api:study-list")).status_code == 200


def test_signup_rejects_a_weak_password_with_messages():
    response = APIClient().post(reverse("accounts-api:signup"), {"username": "dave", "password": "password"}, format="json")
    assert response.status_code == 400
    messages = response.json()["password"]
    assert "This password is too common." in messages
    assert not User.objects.filter(username="dave").exists()


def test_signup_rejects_a_taken_username(users):
    response = APIClient().post(reverse("accounts-api:signup"), {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()


def test_token_for_username_and_password(users):
    response = APIClient().post(reverse("accounts-api:token"), {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=users.patient_a).key


def test_token_with_a_wrong_password(users):
    response = APIClient().post(reverse("accounts-api:token"), {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()
