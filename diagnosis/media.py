"""Serving private files. Callers check access first (diagnosis.selectors)."""
import mimetypes
from pathlib import PurePosixPath

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header


def serve_protected(file_field: FieldFile, *, download_name: str | None = None) -> HttpResponse:
    """A response with the file's bytes.

    With PROTECTED_MEDIA_ACCEL_PREFIX set, Django only checks access and nginx sends the
    file (X-Accel-Redirect to an `internal` location); otherwise Django streams it.
    """
    name = download_name or PurePosixPath(file_field.name).name
    content_type = mimetypes.guess_type(file_field.name)[0] or "application/octet-stream"
    prefix = settings.PROTECTED_MEDIA_ACCEL_PREFIX
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{file_field.name}"
        response["Content-Disposition"] = content_disposition_header(False, name)
    else:
        response = FileResponse(file_field.open("rb"), content_type=content_type, filename=name)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Files whose download is recorded in the audit log: the report and the original upload.
AUDITED_DOWNLOADS = {"report.pdf", "upload"}


def serve_study_file(request, study, kind: str) -> HttpResponse:
    """A study's file named `kind`, if the user may download it (else 404); the one place
    that serves study files, for pages and the API."""
    from diagnosis import selectors
    from diagnosis.audit import Action, audit

    file_field = selectors.study_file_for(request.user, study, kind)
    if kind in AUDITED_DOWNLOADS:
        audit(request.user, study.id, Action.DOWNLOADED, detail=kind, request=request)
    return serve_protected(file_field)
