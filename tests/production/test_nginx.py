"""nginx in front of gunicorn, as deployed: real processes on free loopback ports, nginx's
configuration rendered from nginx/ by scripts/stack.sh, DEBUG=false, the test database.

Private files go through Django's access check and are sent by nginx (X-Accel-Redirect to
an internal location); static files are nginx's alone; bodies over the limit get a 413 page.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.authtoken.models import Token

from studies.models import Artifact, Study
from tests import images
from tests.conftest import PASSWORD
from tests.production import servers, webstack

MAX_BODY_SIZE = "1m"
SECRET_KEY = "test-nginx-secret-key-that-is-long-enough-for-django-0123456789"


@pytest.fixture(scope="module")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("served-media")


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, media_root, tmp_path_factory):
    """gunicorn (one process, four threads) on the test database, and nginx in front of it;
    yields nginx's port."""
    webstack.need_nginx()
    folder = tmp_path_factory.mktemp("site")
    with django_db_blocker.unblock():
        database_url = servers.database_url(connection.settings_dict)
    env = {key: value for key, value in os.environ.items()
           if key not in {"REDIS_URL", "DATABASE_URL", "REDIS_KEY_PREFIX"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "lesions_project.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "VAR_DIR": str(folder / "var"),
        "MEDIA_ROOT": str(media_root),
        "PROTECTED_MEDIA_ACCEL_PREFIX": "/protected-media",
        # plain HTTP on the loopback, as in scripts/stack.sh
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
    })
    upstream_port, nginx_port = servers.free_port(), servers.free_port()
    log = folder / "gunicorn.log"
    gunicorn = webstack.start_gunicorn(port=upstream_port, env=env, log=log)
    nginx = None
    try:
        webstack.wait_for_http(upstream_port, "/healthz", seconds=60, process=gunicorn, log=log)
        config = webstack.render_nginx(
            folder / "nginx", listen_port=nginx_port, upstream=f"127.0.0.1:{upstream_port}",
            # the source folder stands in for collectstatic's output (test_stack runs that)
            static_root=django_settings.BASE_DIR / "static", media_root=media_root,
            max_body_size=MAX_BODY_SIZE)
        nginx = webstack.start_nginx(config)
        webstack.wait_for_http(nginx_port, "/healthz", seconds=30, process=nginx,
                               log=config.parent / "nginx-error.log")
        yield nginx_port
    finally:
        if nginx is not None:
            webstack.stop(nginx)
        webstack.stop(gunicorn)


@pytest.fixture
def served_study(transactional_db, settings, media_root, monkeypatch, request) -> Study:
    """Patient A's analysed study, committed, its files where the served site reads them."""
    settings.MEDIA_ROOT = media_root
    # The upload's task would go to the session's broker, where no worker runs it.
    monkeypatch.setattr("studies.services.queue_analysis", lambda study_id: None)
    return request.getfixturevalue("analysed_study")


def heatmap_of(study: Study) -> Artifact:
    return study.artifacts.get(kind=Artifact.Kind.HEATMAP)


def login(port: int, username: str) -> str:
    """Log in through nginx with the form, as a browser does; returns the session id."""
    page = webstack.http_request(port, "GET", "/accounts/login/")
    assert page.status == 200
    csrf_cookie = page.cookies()["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    body = f"csrfmiddlewaretoken={token}&username={username}&password={PASSWORD}&next=/studies/"
    answer = webstack.http_request(port, "POST", "/accounts/login/", body=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={csrf_cookie}",
        # A browser sends its origin; Django compares it with the Host nginx passes on, port included.
        "Origin": f"http://127.0.0.1:{port}",
    })
    assert answer.status == 302, answer.text[:500]
    assert answer.header("Location") == "/studies/"
    return answer.cookies()["sessionid"]


def assert_hidden_and_secured(response: webstack.Response) -> None:
    assert response.header("X-Accel-Redirect") is None
    assert not any("protected-media" in value for _, value in response.headers.items())
    assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert response.headers.get_all("X-Frame-Options") == ["DENY"]


def test_the_owner_gets_the_annotated_image_from_nginx(site, served_study, settings, users):
    # The login goes through Django's default hasher in the served process.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    users.patient_a.set_password(PASSWORD)
    users.patient_a.save()
    expected = heatmap_of(served_study).file.read()
    session = login(site, "alice")

    response = webstack.http_request(site, "GET", f"/studies/{served_study.id}/files/heatmap",
                                     headers={"Cookie": f"sessionid={session}"})

    assert response.status == 200
    assert response.body == expected
    assert response.header("Content-Type") == "image/jpeg"
    assert response.header("Cache-Control") == "private, max-age=3600"
    assert_hidden_and_secured(response)


def test_the_owner_gets_it_with_an_api_token_too(site, served_study, users):
    token = Token.objects.create(user=users.patient_a).key
    response = webstack.http_request(site, "GET", f"/api/v1/studies/{served_study.id}/files/heatmap",
                                     headers={"Authorization": f"Token {token}"})
    assert response.status == 200
    assert response.body == heatmap_of(served_study).file.read()
    assert_hidden_and_secured(response)


def test_anonymous_and_another_patient_get_nothing(site, served_study, users):
    page_url = f"/studies/{served_study.id}/files/heatmap"
    api_url = f"/api/v1/studies/{served_study.id}/files/heatmap"
    bob = Token.objects.create(user=users.patient_b).key
    expected = heatmap_of(served_study).file.read()

    answers = {
        "anonymous page": webstack.http_request(site, "GET", page_url),
        "anonymous api": webstack.http_request(site, "GET", api_url),
        "bob page": webstack.http_request(site, "GET", page_url, headers={"Authorization": f"Token {bob}"}),
        "bob api": webstack.http_request(site, "GET", api_url, headers={"Authorization": f"Token {bob}"}),
    }

    assert answers["anonymous page"].status == 404  # not a redirect to the login page
    assert answers["anonymous api"].status == 401  # the API asks for credentials
    assert answers["bob page"].status == 404  # the page ignores tokens: bob is anonymous there
    assert answers["bob api"].status == 404  # never reveal that the study exists
    for name, response in answers.items():
        assert expected not in response.body, name
        assert response.header("X-Accel-Redirect") is None, name


def test_a_guessed_media_path_answers_404(site, served_study):
    name = heatmap_of(served_study).file.name
    assert (Path(django_settings.MEDIA_ROOT) / name).is_file()
    for path in (f"/protected-media/{name}", f"/media/{name}", f"/protected-media/../{name}"):
        response = webstack.http_request(site, "GET", path)
        assert response.status == 404, path
        assert response.header("X-Accel-Redirect") is None


def test_nginx_serves_static_files_compressed(site):
    css = django_settings.BASE_DIR / "static" / "css" / "app.css"
    plain = webstack.http_request(site, "GET", "/static/css/app.css")
    assert plain.status == 200
    assert plain.body == css.read_bytes()
    assert plain.header("Content-Type") == "text/css"
    assert plain.header("Expires") is not None
    assert plain.header("X-Content-Type-Options") == "nosniff"

    compressed = webstack.http_request(site, "GET", "/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    assert compressed.header("Content-Encoding") == "gzip"
    assert gzip.decompress(compressed.body) == css.read_bytes()

    assert webstack.http_request(site, "GET", "/static/css/no-such.css").status == 404


def test_an_upload_through_nginx_reaches_django_with_the_public_host(site, users, transactional_db):
    token = Token.objects.create(user=users.patient_a).key
    body, content_type = webstack.multipart({"kind": "skin_photo"},
                                            {"file": ("mole.jpg", images.jpeg_bytes(), "image/jpeg")})
    response = webstack.http_request(site, "POST", "/api/v1/studies/", body=body, headers={
        "Content-Type": content_type, "Authorization": f"Token {token}"})
    assert response.status == 201, response.text[:500]
    data = json.loads(response.body)
    assert Study.objects.get(id=data["id"]).owner == users.patient_a
    # Django built its links from the Host nginx passed on (port included) and plain HTTP.
    assert data["urls"]["photo"].startswith(f"http://127.0.0.1:{site}/api/v1/studies/")


def test_an_upload_over_the_limit_gets_a_clear_413_page(site):
    too_large = b"x" * (1024 * 1024 + 4096)
    page = webstack.http_request(site, "POST", "/studies/new/", body=too_large,
                                 headers={"Content-Type": "application/octet-stream"})
    assert page.status == 413
    assert page.header("Content-Type").startswith("text/html")
    assert "File too large" in page.text
    assert "limited to\n     <strong>1 MB</strong>" in page.text
    assert page.header("X-Frame-Options") == "DENY"

    api = webstack.http_request(site, "POST", "/api/v1/studies/", body=too_large,
                                headers={"Content-Type": "application/octet-stream"})
    assert api.status == 413
    assert api.header("Content-Type") == "application/json"
    detail = json.loads(api.body)
    assert detail["detail"] == "The upload is too large. This server accepts requests of up to 1 MB."
    assert detail["max_body_size"] == MAX_BODY_SIZE

    stow = webstack.http_request(site, "POST", "/dicomweb/studies", body=too_large,
                                 headers={"Content-Type": "multipart/related; type=\"application/dicom\""})
    assert (stow.status, stow.header("Content-Type")) == (413, "application/json")
