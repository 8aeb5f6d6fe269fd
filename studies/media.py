"""Serving private files. Callers check access first (studies.selectors)."""
import mimetypes
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from studies import selectors
from studies.audit import Action, audit


def serve_protected(file_field: FieldFile, *, download_name: str | None = None) -> HttpResponse:
    """A response that delivers the file, to a user whose access was checked.

    Local disk: Django streams the file, or with PROTECTED_MEDIA_ACCEL_PREFIX set hands the
    transfer to nginx (X-Accel-Redirect to an `internal` location aliasing MEDIA_ROOT).
    S3: a redirect to a signed URL that expires after AWS_QUERYSTRING_EXPIRE seconds, or with
    PROTECTED_MEDIA_ACCEL_PREFIX set an X-Accel-Redirect to an `internal` nginx location that
    proxies the bucket (docs/deploy.md), so the browser never leaves the site.
    Other storages without local paths: Django streams the file.
    """
    name = download_name or PurePosixPath(file_field.name).name
    content_type = mimetypes.guess_type(file_field.name)[0] or "application/octet-stream"
    prefix = settings.PROTECTED_MEDIA_ACCEL_PREFIX.rstrip("/")
    storage = file_field.storage
    if _is_s3(storage):
        signed = storage.url(file_field.name, expire=settings.AWS_QUERYSTRING_EXPIRE, parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition_header(False, name),
        })
        if not prefix:
            response = HttpResponseRedirect(signed)
            # The URL expires within a minute: neither the browser nor a proxy may keep it.
            response["Cache-Control"] = "no-store"
            return response
        parts = urlsplit(signed)
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{prefix}{parts.path}?{parts.query}"
        response["Content-Disposition"] = content_disposition_header(False, name)
    elif prefix and _has_local_paths(storage, file_field.name):
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{prefix}/{file_field.name}"
        response["Content-Disposition"] = content_disposition_header(False, name)
    else:
        response = FileResponse(file_field.open("rb"), content_type=content_type, filename=name)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _is_s3(storage) -> bool:
    """Whether `storage` is django-storages' S3Storage (boto3 is imported only then)."""
    if not any(cls.__name__ == "S3Storage" for cls in storage.__class__.__mro__):
        return False
    from storages.backends.s3 import S3Storage  # noqa: PLC0415  boto3 is imported only for S3

    return isinstance(storage, S3Storage)


def _has_local_paths(storage, name: str) -> bool:
    try:
        storage.path(name)
    except NotImplementedError:
        return False
    return True


# Files whose download is recorded in the audit log: the report and the original upload.
AUDITED_DOWNLOADS = {"report.pdf", "upload"}


def serve_study_file(request, study, kind: str) -> HttpResponse:
    """A study's file named `kind`, if the user may download it (else 404); the one place
    that serves study files, for pages and the API."""
    file_field = selectors.study_file_for(user=request.user, study=study, kind=kind)
    if kind in AUDITED_DOWNLOADS:
        audit(request.user, study.id, Action.DOWNLOADED, detail=kind, request=request)
    return serve_protected(file_field)
