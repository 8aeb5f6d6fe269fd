"""Media on S3-compatible storage: permitted downloads get a short-lived signed URL (or an
X-Accel-Redirect to nginx's bucket proxy), and the worker reads studies from storages that
have no local paths."""
from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.storage import InMemoryStorage, default_storage
from django.urls import reverse
from django.utils._os import safe_join

from studies import services
from studies.analysis import run
from studies.models import Artifact, Study
from studies.storage import local_files
from tests.studies.test_analysis import SHIPPED_WEIGHTS, ct_series, sent

S3 = "storages.backends.s3.S3Storage"
BUCKET = "lesions-media"
# Nothing listens here: boto3 signs URLs locally, so any network use would fail the test.
ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture
def s3(settings):
    settings.STORAGE_BACKEND = S3
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = ENDPOINT
    settings.AWS_S3_REGION_NAME = "eu-west-1"
    settings.AWS_S3_ACCESS_KEY_ID = "test-access-key"
    settings.AWS_S3_SECRET_ACCESS_KEY = "test-secret-key"
    settings.AWS_QUERYSTRING_EXPIRE = 60
    # Last: changing STORAGES makes default_storage a new S3Storage with the settings above.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3}}


def file_url(study: Study, kind: str) -> str:
    return reverse("studies:study_file", kwargs={"study_id": study.id, "kind": kind})


def test_the_owner_is_redirected_to_a_signed_url_that_expires(client_a, queued_study, s3):
    name = queued_study.upload.file.name
    response = client_a.get(file_url(queued_study, "upload"))
    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"
    signed = urlsplit(response["Location"])
    assert f"{signed.scheme}://{signed.netloc}" == ENDPOINT
    assert signed.path == f"/{BUCKET}/{name}"
    query = parse_qs(signed.query)
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith("test-access-key/")
    assert query["X-Amz-Signature"]
    assert query["response-content-type"] == ["image/jpeg"]
    assert query["response-content-disposition"][0].startswith("inline; filename=")


def test_another_patient_and_anonymous_get_nothing(client_b, client, queued_study, s3):
    assert client_b.get(file_url(queued_study, "upload")).status_code == 404
    assert client.get(file_url(queued_study, "upload")).status_code == 404


def test_with_an_accel_prefix_nginx_fetches_the_signed_url_itself(client_a, queued_study, s3, settings):
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = "/protected-s3/"
    response = client_a.get(file_url(queued_study, "upload"))
    assert response.status_code == 200 and response.content == b""
    assert "Location" not in response
    accel = urlsplit(response["X-Accel-Redirect"])
    assert accel.path == f"/protected-s3/{BUCKET}/{queued_study.upload.file.name}"
    assert "X-Amz-Signature=" in accel.query and "X-Amz-Expires=60" in accel.query
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=3600"


class PathlessStorage(InMemoryStorage):
    """Files reachable only through open(), like S3's, without a server. (Django's
    InMemoryStorage answers path() with a path where no file is.)"""

    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def _relative_path(self, name):  # InMemoryStorage's own bookkeeping goes through path()
        return os.path.relpath(safe_join(self.location, name), self.location)


@pytest.fixture
def in_memory_storage(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.PathlessStorage"}}


def test_storages_without_paths_are_streamed_by_django_even_with_an_accel_prefix(
        client_a, users, in_memory_storage, settings, django_capture_on_commit_callbacks):
    from tests.conftest import photo_upload

    with django_capture_on_commit_callbacks(execute=False):
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(),
                                      language="en")
    settings.PROTECTED_MEDIA_ACCEL_PREFIX = "/protected-media/"
    response = client_a.get(file_url(study, "upload"))
    assert response.status_code == 200 and "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8\xff")


def test_the_worker_copies_files_of_a_storage_without_paths_to_a_temporary_folder(users, in_memory_storage, tmp_path):
    study = sent(users.clinician, "ct", ct_series(tmp_path))
    files = list(study.files.all())
    with pytest.raises(NotImplementedError):
        default_storage.path(files[0].file.name)
    with local_files(files) as paths:
        assert len(paths) == len(files) == 24
        assert all(path.is_file() for path in paths)
        with files[3].file.open("rb") as stored:
            assert paths[3].read_bytes() == stored.read()
        folder = paths[0].parent
    assert not folder.exists()


def test_a_ct_preread_works_on_a_storage_without_paths(users, in_memory_storage, settings, tmp_path):
    settings.ML_WEIGHTS_DIR = SHIPPED_WEIGHTS
    study = sent(users.clinician, "ct", ct_series(tmp_path))
    run.analyse_study(study_id=study.id)
    study.refresh_from_db()
    assert study.status == Study.Status.DONE, study.failure_reason
    volume = study.artifacts.get(kind=Artifact.Kind.VOLUME)
    assert default_storage.exists(volume.file.name)
    assert len(volume.file.read()) == 2 * 24 * 64 * 64  # int16 voxels


def test_s3_objects_are_private_and_their_urls_always_signed(s3):
    from storages.backends.s3 import S3Storage

    assert isinstance(default_storage, S3Storage)
    assert default_storage.default_acl == "private"
    assert default_storage.querystring_auth is True and not default_storage.custom_domain
    assert "X-Amz-Signature=" in default_storage.url("studies/x/upload/y.png")
