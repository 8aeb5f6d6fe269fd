"""Every role rule of the platform, in one place: who reviews, who sends X-rays and CT, who
sees which study and its findings, who may delete it. Pages, the API, DICOMweb and the
services ask here; queries that filter by role use ``visible_studies``."""

from __future__ import annotations

from typing import Protocol

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.functional import Promise
from rest_framework.permissions import BasePermission

from accounts.models import User

RADIOLOGY_KINDS = ("chest_xray", "ct")  # studies.models.Study.Kind values a radiologist reads


class StudyLike(Protocol):
    owner_id: int | None
    kind: str
    review: str


# studies.models.Study.Review values while nobody has claimed or signed a study
UNREVIEWED = ("", "awaiting")


def is_admin(user: User) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role == User.Role.ADMIN))


def may_review(user: User) -> bool:
    """Radiologists and admins read X-rays and CT: claim, sign, add addenda, mark nodules."""
    return bool(user.is_authenticated and user.is_active
                and (user.role == User.Role.RADIOLOGIST or is_admin(user)))


def may_send_radiology(user: User) -> bool:
    """Clinicians (a PACS account included) and radiologists send X-rays and CT."""
    return bool(user.is_authenticated
                and (user.role in {User.Role.RADIOLOGIST, User.Role.CLINICIAN} or is_admin(user)))


def visible_studies(user: User) -> Q | None:
    """The filter of the studies ``user`` may see (None: all of them). Admins see every
    study, radiologists every X-ray and CT and their own, everyone else their own; signed
    out or deactivated users none."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_admin(user):
        return None
    if user.role == User.Role.RADIOLOGIST:
        return Q(kind__in=RADIOLOGY_KINDS) | Q(owner=user)
    return Q(owner=user)


def may_see_findings(user: User, study: StudyLike) -> bool:
    """A clinician who sent a study sees its signed report only, not the AI's preliminary
    findings. Everyone else who can see a study sees all of it."""
    return user.role != User.Role.CLINICIAN or is_admin(user)


def may_delete(user: User, study: StudyLike) -> bool:
    """Owners delete their own studies, except X-rays and CT once a radiologist has claimed
    or signed them (a medical record); admins may delete any."""
    if is_admin(user):
        return True
    return study.owner_id == user.id and study.review in UNREVIEWED


def require(allowed: bool, message: str | Promise) -> None:
    """PermissionDenied with ``message`` (a 403 page, or the API's 403 answer) unless allowed."""
    if not allowed:
        raise PermissionDenied(message)


class Reviewer(BasePermission):
    """DRF: radiologists and admins."""

    def has_permission(self, request, view) -> bool:
        return may_review(request.user)


class SendsRadiology(BasePermission):
    """DRF: clinicians, radiologists and admins."""

    def has_permission(self, request, view) -> bool:
        return may_send_radiology(request.user)
