"""The radiologist's pages: the worklist and the review page with its actions.

Thin: check input, call one service from radiology.review, redirect back to the review page.
A study the user cannot see is a 404 (selectors.study_get_for); one they can see but may not
review (a clinician's own study) is a 403.
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from lesions_project.errors import ApplicationError
from radiology import review, viewing, worklist
from radiology.forms import AddendumForm, SignForm, WorklistFilterForm, add_service_errors
from studies import findings, selectors
from studies.audit import Action, audit
from studies.models import Study


@login_required
@require_GET
def worklist_page(request: HttpRequest) -> HttpResponse:
    review.require_reviewer(request.user)
    form = WorklistFilterForm(request.GET)
    studies = worklist.worklist_for(user=request.user, **form.worklist_filters())
    page = worklist.WorklistPaginator(studies, worklist.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(study, worklist.ai_summary(study=study)) for study in page.object_list]
    return render(request, "radiology/worklist.html", {"form": form, "page": page, "rows": rows})


@login_required
@require_GET
def review_page(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = _reviewable_study(request, study_id)
    audit(request.user, study.id, Action.VIEWED, detail="review page", request=request)
    return _render_review(request, study)


@login_required
@require_POST
def claim(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = _reviewable_study(request, study_id)
    try:
        review.study_claim(user=request.user, study=study, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("radiology:review", study_id=study.id)


@login_required
@require_POST
def release(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = _reviewable_study(request, study_id)
    try:
        review.study_release(user=request.user, study=study, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("radiology:review", study_id=study.id)
    return redirect("radiology:worklist")


@login_required
@require_POST
def sign(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = _reviewable_study(request, study_id)
    form = SignForm(request.POST, kind=study.kind)
    if form.is_valid():
        try:
            review.report_sign(user=request.user, study=study, request=request, **form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return _render_review(request, study, sign_form=form, status=400)
        return redirect("radiology:review", study_id=study.id)
    return _render_review(request, study, sign_form=form, status=400)


@login_required
@require_POST
def add_addendum(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    study = _reviewable_study(request, study_id)
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            review.report_add_addendum(user=request.user, study=study, text=form.cleaned_data["text"],
                                       request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return _render_review(request, study, addendum_form=form, status=400)
        return redirect("radiology:review", study_id=study.id)
    return _render_review(request, study, addendum_form=form, status=400)


def _reviewable_study(request: HttpRequest, study_id: uuid.UUID) -> Study:
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    if study.kind not in selectors.RADIOLOGY_KINDS:
        raise PermissionDenied
    review.require_reviewer(request.user)
    return study


def _render_review(request: HttpRequest, study: Study, *, sign_form: SignForm | None = None,
                   addendum_form: AddendumForm | None = None, status: int = 200) -> HttpResponse:
    result = getattr(study, "result", None)
    ai = review.ai_findings_snapshot(study, result)
    report = getattr(study, "report", None)
    context = {
        "study": study,
        "ai": ai,
        "report": report,
        "addenda": list(report.addenda.all()) if report else [],
        "files": selectors.files_visible_to(user=request.user, study=study),
        "viewer": viewing.viewer_context(study, request),
        "claimed_by_me": study.review == Study.Review.IN_REVIEW and study.claimed_by_id == request.user.id,
        "claimed_by_name": review.display_name(study.claimed_by) if study.claimed_by_id else "",
        "sign_form": sign_form or SignForm(kind=study.kind, ai_class=ai["ai_class"]),
        "addendum_form": addendum_form or AddendumForm(),
        "class_choices": findings.class_choices(study.kind),
    }
    return render(request, "radiology/review.html", context, status=status)


@login_required
@require_GET
def nodule_list(request: HttpRequest, study_id: uuid.UUID) -> HttpResponse:
    """The marked nodules' list items, for the review page to refresh."""
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    permissions.require(permissions.may_see_findings(request.user, study), review.NOT_A_REVIEWER)
    return render(request, "radiology/includes/nodule_list.html", {"study": study, "nodules": study.nodules.all()})
