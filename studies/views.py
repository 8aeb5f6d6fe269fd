"""HTML pages for studies. Thin: check input, call one service or selector, render."""
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import permissions
from lesions_project.errors import ApplicationError
from studies import assessability, selectors, services
from studies.audit import Action, audit
from studies.forms import RadiologyUploadForm, StudyUploadForm
from studies.intake.scans import SEND_RADIOLOGY_ONLY, radiology_studies_create
from studies.media import serve_study_file
from studies.models import Study


@login_required
@require_GET
def study_list(request: HttpRequest) -> HttpResponse:
    studies = selectors.own_studies(user=request.user)
    return render(request, "studies/study_list.html", {"studies": studies})


@login_required
@require_http_methods(["GET", "POST"])
def study_new(request: HttpRequest) -> HttpResponse:
    form = StudyUploadForm(request.POST, request.FILES) if request.method == "POST" else StudyUploadForm()
    if form.is_bound and form.is_valid():
        try:
            study = services.study_create(
                owner=request.user,
                kind=Study.Kind.SKIN_PHOTO,
                upload=form.cleaned_data["file"],
                language=request.LANGUAGE_CODE,
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("studies:study_detail", study_id=study.id)
    return render(request, "studies/study_new.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def radiology_new(request: HttpRequest) -> HttpResponse:
    permissions.require(permissions.may_send_radiology(request.user), SEND_RADIOLOGY_ONLY)
    form = RadiologyUploadForm(request.POST, request.FILES) if request.method == "POST" else RadiologyUploadForm()
    if form.is_bound and form.is_valid():
        try:
            studies = radiology_studies_create(
                owner=request.user, kind=form.cleaned_data["kind"], uploads=form.cleaned_data["files"],
                language=request.LANGUAGE_CODE, patient_name=form.cleaned_data["patient_name"],
                patient_identifier=form.cleaned_data["patient_identifier"], request=request,
            )
        except ApplicationError as exc:
            form.add_error("files", exc.message)
        else:
            if len(studies) == 1:
                return redirect("studies:study_detail", study_id=studies[0].id)
            messages.success(request, ngettext("%(count)d study was created.", "%(count)d studies were created.",
                                               len(studies)) % {"count": len(studies)})
            return redirect("studies:study_list")
    return render(request, "studies/radiology_new.html", {"form": form})


@login_required
@require_GET
def study_detail(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    if study.kind != Study.Kind.SKIN_PHOTO:
        return _radiology_study(request, study)
    context = {
        "study": study,
        "result": getattr(study, "result", None) if study.status == Study.Status.DONE else None,
        "reasons": assessability.study_reasons(study),
        "files": selectors.files_visible_to(user=request.user, study=study),
        "stage_labels": {**dict(Study.Status.choices), **dict(Study.Stage.choices)},
    }
    return render(request, "studies/study_detail.html", context)


def _radiology_study(request: HttpRequest, study: Study) -> HttpResponse:
    """What the sender of an X-ray or CT sees: where it is, and the final report once signed."""
    audit(request.user, study.id, Action.VIEWED, request=request)
    context = {
        "study": study,
        "files": selectors.files_visible_to(user=request.user, study=study),
        "findings_visible": permissions.may_see_findings(request.user, study),
        "stage_labels": {**dict(Study.Status.choices), **dict(Study.Stage.choices)},
    }
    return render(request, "studies/radiology_study.html", context)


@never_cache
@login_required
@require_GET
def study_status(request: HttpRequest, study_id: uuid.UUID) -> JsonResponse:
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    return JsonResponse({"status": study.status, "stage": study.stage, "finished": study.is_finished})


@login_required
@require_http_methods(["GET", "POST"])
def study_delete(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    if not permissions.may_delete(request.user, study):
        raise PermissionDenied
    if request.method == "POST":
        services.study_delete(study=study)
        audit(request.user, study_id, Action.DELETED, request=request)
        return redirect("studies:study_list")
    return render(request, "studies/study_confirm_delete.html", {"study": study})


@require_GET
def study_file(request: HttpRequest, study_id: uuid.UUID, kind: str) -> HttpResponse:
    # No login redirect: file URLs are fetched by <img> tags and downloads, and anyone who
    # may not have the file (signed out included: they see no studies) gets a plain 404.
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    return serve_study_file(request, study, kind)
