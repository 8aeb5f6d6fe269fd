"""Reads of studies. Every HTML view, API view and the file-serving view finds a study
through ``studies_visible_to`` (the role rules are accounts.permissions)."""
import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import Http404

from accounts import permissions
from accounts.models import User
from studies.models import Artifact, Study

RADIOLOGY_KINDS = tuple(Study.Kind(kind) for kind in permissions.RADIOLOGY_KINDS)  # the rule: accounts.permissions

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


def studies_visible_to(*, user: User) -> QuerySet[Study]:
    """The studies ``user`` may see (the rule: accounts.permissions.visible_studies)."""
    visible = permissions.visible_studies(user)
    return Study.objects.all() if visible is None else Study.objects.filter(visible)


def files_visible_to(*, user: User, study: Study) -> set[str]:
    """Keys of FILE_KINDS that `user` may download for `study` (which they can see)."""
    available = study_available_files(study=study)
    if permissions.may_see_findings(user, study):
        return available
    if study.review == Study.Review.SIGNED:
        return available & {"report.pdf"}
    return set()


def study_list_for(*, user: User) -> QuerySet[Study]:
    return studies_visible_to(user=user).select_related("result").prefetch_related("files", "artifacts")


def own_studies(*, user: User) -> QuerySet[Study]:
    """The studies `user` uploaded ("My studies"); radiologists find the others in the worklist."""
    return study_list_for(user=user).filter(owner=user)


def study_get_for(*, user: User, study_id: uuid.UUID | str) -> Study:
    """The study if `user` may see it; Http404 otherwise (never reveal that it exists)."""
    try:
        return study_list_for(user=user).get(id=study_id)
    except (Study.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such study.") from None


def study_file_for(*, user: User, study: Study, kind: str) -> FieldFile:
    """The stored file named `kind` (a key of FILE_KINDS) if it exists (yet) and `user` may
    download it; Http404 otherwise."""
    if kind not in FILE_KINDS or kind not in files_visible_to(user=user, study=study):
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


def study_available_files(*, study: Study) -> set[str]:
    """Keys of FILE_KINDS that this study has a file for."""
    present = {artifact.kind for artifact in study.artifacts.all()}
    available = {name for name, kind in FILE_KINDS.items() if kind is not None and kind in present}
    if study.upload is not None:
        available.add("upload")
    return available
