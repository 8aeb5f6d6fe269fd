"""The one kind of error a user reads, and the one place the API turns errors into answers.

Services raise ``ApplicationError`` with a message in plain words (a lazy translation, so
that it is rendered in the language of whoever reads it); pages show the message beside the
form field it names, the API answers it with its status. Django's own ``ValidationError``
and ``PermissionDenied`` from services are answered the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.functional import Promise
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A refusal a user can act on. ``status``: what the API answers (400 bad input, 409 a
    conflict, 413 too large, ...); ``field``: the form or API field it concerns (answered
    as ``{field: [message]}``, otherwise ``{"detail": message}``); ``names``: the uploaded
    files it concerns."""

    def __init__(self, message: str | Promise, *, status: int = status.HTTP_400_BAD_REQUEST,
                 field: str | None = None, names: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.names = tuple(names)

    def __str__(self) -> str:
        return str(self.message)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: ApplicationError and the services' Django errors become
    answers with their message; everything else is DRF's default."""
    if isinstance(exc, ApplicationError):
        body = {exc.field: [str(exc.message)]} if exc.field else {"detail": str(exc.message)}
        return Response(body, status=exc.status)
    if isinstance(exc, ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, PermissionDenied) and exc.args:
        exc = exceptions.PermissionDenied(str(exc.args[0]))
    return exception_handler(exc, context)
