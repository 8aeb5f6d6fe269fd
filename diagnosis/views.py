"""HTML pages for studies. Thin: check input, call one service or selector, render."""
import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from diagnosis import selectors, services
from diagnosis.forms import StudyUploadForm
from diagnosis.imaging import InvalidImage
from diagnosis.media import serve_protected
from diagnosis.models import Study


@login_required
@require_GET
def study_list(request: HttpRequest) -> HttpResponse:
    studies = selectors.study_list_for(request.user)
    return render(request, "diagnosis/study_list.html", {"studies": studies})


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
        except InvalidImage as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("diagnosis:study_detail", study_id=study.id)
    return render(request, "diagnosis/study_new.html", {"form": form})


@login_required
@require_GET
def study_detail(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = selectors.study_get_for(request.user, study_id)
    context = {
        "study": study,
        "result": getattr(study, "result", None) if study.status == Study.Status.DONE else None,
        "files": selectors.study_available_files(study),
        "stage_labels": {**dict(Study.Status.choices), **dict(Study.Stage.choices)},
    }
    return render(request, "diagnosis/study_detail.html", context)


@never_cache
@login_required
@require_GET
def study_status(request: HttpRequest, study_id: uuid.UUID) -> JsonResponse:
    study = selectors.study_get_for(request.user, study_id)
    return JsonResponse({"status": study.status, "stage": study.stage, "finished": study.is_finished})


@login_required
@require_http_methods(["GET", "POST"])
def study_delete(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = selectors.study_get_for(request.user, study_id)
    if request.method == "POST":
        services.study_delete(study=study)
        return redirect("diagnosis:study_list")
    return render(request, "diagnosis/study_confirm_delete.html", {"study": study})


@login_required
@require_GET
def study_file(request: HttpRequest, study_id: uuid.UUID, kind: str) -> HttpResponse:
    study = selectors.study_get_for(request.user, study_id)
    return serve_protected(selectors.study_file_for(study, kind))
