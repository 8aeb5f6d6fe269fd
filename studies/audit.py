"""The audit log: one call records who did what to which study."""
from __future__ import annotations

import uuid

from django.http import HttpRequest

from accounts.models import User
from studies.models import AuditEvent

Action = AuditEvent.Action


def audit(user: User, study_id: uuid.UUID | str, action: str, *, detail: str = "",
          request: HttpRequest | None = None) -> None:
    AuditEvent.objects.create(
        user=user if user and user.is_authenticated else None,
        username=getattr(user, "username", "") or "",
        action=action,
        study_id=study_id,
        detail=detail[:255],
        ip_address=_client_address(request),
    )


def _client_address(request: HttpRequest | None) -> str | None:
    """The client's address; behind nginx, the last X-Forwarded-For hop nginx added."""
    if request is None:
        return None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    address = forwarded.split(",")[-1].strip() if forwarded else request.META.get("REMOTE_ADDR")
    return address or None
