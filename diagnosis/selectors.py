"""Reads, and the one place that decides who may see which study.

Every HTML view, API view and the file-serving view goes through `studies_visible_to`.
"""
import uuid

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.http import Http404

from accounts.models import User
from diagnosis.models import Artifact, Study

RADIOLOGY_KINDS = (Study.Kind.CHEST_XRAY, Study.Kind.CT)

# URL name of a study's file -> the artifact kind holding it ("upload" is the StudyFile)
FILE_KINDS = {
    "upload": None,
    "outline": Artifact.Kind.OUTLINE,
    "heatmap": Artifact.Kind.HEATMAP,
    "report.pdf": Artifact.Kind.REPORT_PDF,
    "image": Artifact.Kind.IMAGE,
    "heatmap-layer": Artifact.Kind.HEATMAP_LAYER,
    "volume": Artifact.Kind.VOLUME,
    "axial": Artifact.Kind.AXIAL,
    "coronal": Artifact.Kind.CORONAL,
    "sagittal": Artifact.Kind.SAGITTAL,
    "montage": Artifact.Kind.MONTAGE,
}


def studies_visible_to(user: User) -> QuerySet[Study]:
    """Everyone sees their own studies; radiologists also see radiology studies; admins see all."""
    if not user.is_authenticated or not user.is_active:
        return Study.objects.none()
    if user.is_platform_admin:
        return Study.objects.all()
    visible = Q(owner=user)
    if user.role == User.Role.RADIOLOGIST:
        visible |= Q(kind__in=RADIOLOGY_KINDS)
    return Study.objects.filter(visible)


def may_see_findings(user: User, study: Study) -> bool:
    """Clinicians who sent a study read its final report only: not the images, not the AI's
    preliminary findings. Everyone else who can see a study sees all of it."""
    return user.role != User.Role.CLINICIAN or user.is_platform_admin


def may_delete(user: User, study: Study) -> bool:
    """Owners delete their own studies, except X-rays and CT once a radiologist has claimed
    or signed them (a medical record); admins may delete any."""
    if user.is_platform_admin:
        return True
    if study.owner_id != user.id:
        return False
    return study.review in {Study.Review.NONE, Study.Review.AWAITING}


def files_visible_to(user: User, study: Study) -> set[str]:
    """Keys of FILE_KINDS that `user` may download for `study` (which they can see)."""
    available = study_available_files(study)
    if may_see_findings(user, study):
        return available
    if study.review == Study.Review.SIGNED:
        return available & {"report.pdf"}
    return set()


def study_list_for(user: User) -> QuerySet[Study]:
    return studies_visible_to(user).select_related("result").prefetch_related("files", "artifacts")


def own_studies(user: User) -> QuerySet[Study]:
    """The studies `user` uploaded ("My studies"); radiologists find the others in the worklist."""
    return study_list_for(user).filter(owner=user)


def study_get_for(user: User, study_id: uuid.UUID | str) -> Study:
    """The study if `user` may see it; Http404 otherwise (never reveal that it exists)."""
    try:
        return study_list_for(user).get(id=study_id)
    except (Study.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such study.") from None


def study_file_for(user: User, study: Study, kind: str) -> FieldFile:
    """The stored file named `kind` (a key of FILE_KINDS) if it exists (yet) and `user` may
    download it; Http404 otherwise."""
    if kind not in FILE_KINDS or kind not in files_visible_to(user, study):
        raise Http404("No such file.")
    artifact_kind = FILE_KINDS[kind]
    if artifact_kind is None:
        upload = study.upload
        if upload is None:
            raise Http404("No such file.")
        return upload.file
    for artifact in study.artifacts.all():
        if artifact.kind == artifact_kind:
            return artifact.file
    raise Http404("No such file.")


def study_available_files(study: Study) -> set[str]:
    """Keys of FILE_KINDS that this study has a file for."""
    present = {artifact.kind for artifact in study.artifacts.all()}
    available = {name for name, kind in FILE_KINDS.items() if kind is not None and kind in present}
    if study.upload is not None:
        available.add("upload")
    return available
