"""The radiologist's review: claim a study, sign a report on it, add addenda.

One set of services for the review pages and the API. Every state change is one
conditional UPDATE, so two radiologists racing for the same study cannot both win: the
loser gets an ApplicationError (409) naming who holds it. Invalid input raises Django's
ValidationError with a message dict keyed by the API's field names ("agree",
"corrected_class", "impression", "text"); a user who may not review gets PermissionDenied.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import permissions
from accounts.models import User
from lesions_project.errors import ApplicationError
from radiology.models import Addendum, Label, Report
from radiology.reports import render_signed_report_pdf
from studies import assessability, findings
from studies.audit import Action, audit
from studies.models import Artifact, Study, StudyResult
from studies.selectors import RADIOLOGY_KINDS
from studies.storage import delete_files

Review = Study.Review
NOT_A_REVIEWER = gettext_lazy("Only radiologists and administrators review studies.")
OPEN_REVIEWS = (Review.AWAITING, Review.IN_REVIEW)


def review_conflict(message: str) -> ApplicationError:
    """The study is not in a state that allows this (claimed by someone else, signed)."""
    return ApplicationError(message, status=409)


def study_claim(*, user: User, study: Study, request: HttpRequest | None = None) -> Study:
    """Take the study for review; claiming one's own claim again changes nothing."""
    require_reviewer(user)
    now = timezone.now()
    taken = Study.objects.filter(id=study.id, kind__in=RADIOLOGY_KINDS, review=Review.AWAITING).update(
        review=Review.IN_REVIEW, claimed_by=user, claimed_at=now, updated_at=now
    )
    current = _current_state(study)
    if not taken:
        if current.review == Review.IN_REVIEW and current.claimed_by_id == user.id:
            return current
        raise review_conflict(_conflict_message(current, user))
    audit(user, study.id, Action.CLAIMED, request=request)
    return current


def study_release(*, user: User, study: Study, request: HttpRequest | None = None) -> Study:
    """Put a claimed study back on the worklist: its claimant, or an administrator."""
    require_reviewer(user)
    claims = Study.objects.filter(id=study.id, review=Review.IN_REVIEW)
    if not permissions.is_admin(user):
        claims = claims.filter(claimed_by=user)
    now = timezone.now()
    released = claims.update(review=Review.AWAITING, claimed_by=None, claimed_at=None, updated_at=now)
    current = _current_state(study)
    if not released:
        if current.review == Review.IN_REVIEW:
            raise review_conflict(_conflict_message(current, user))
        if current.review == Review.SIGNED:
            raise review_conflict(_("This study is already signed."))
        raise review_conflict(_("This study is not claimed."))
    audit(user, study.id, Action.RELEASED, request=request)
    return current


def report_sign(*, user: User, study: Study, agree: bool, impression: str, corrected_class: str = "",
                request: HttpRequest | None = None) -> Report:
    """Sign the final report: the Report, its training Label and the PDF, all or nothing.

    An unclaimed study is claimed by signing it.
    """
    require_reviewer(user)
    current = Study.objects.select_related("result").prefetch_related("nodules").get(id=study.id)
    _check_open_for(current, user)
    result = _result_of(current)
    ai_value = findings.ai_class(current, result)
    impression = _plain_text(impression)
    corrected_class = "" if agree else (corrected_class or "").strip()
    errors: dict[str, str] = {}
    if not impression:
        errors["impression"] = _("Write the impression.")
    if agree and not ai_value:
        errors["agree"] = _("There is no AI finding to agree with; choose the finding yourself.")
    if not agree and corrected_class not in dict(findings.class_choices(current.kind)):
        errors["corrected_class"] = _("Choose the finding from the list.")
    if errors:
        raise ValidationError(errors)

    report = Report(
        study=current, radiologist=user, radiologist_name=display_name(user), agree=agree,
        corrected_class=corrected_class, impression=impression,
        ai_findings=ai_findings_snapshot(current, result), signed_at=timezone.now(),
    )
    pdf = render_signed_report_pdf(study=current, report=report)
    artifact = Artifact(study=current, kind=Artifact.Kind.REPORT_PDF)
    artifact.file.save("report.pdf", ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            signed = Study.objects.filter(
                Q(claimed_by=None) | Q(claimed_by=user), id=current.id, review__in=OPEN_REVIEWS,
            ).update(review=Review.SIGNED, claimed_by=user, claimed_at=current.claimed_at or report.signed_at,
                     updated_at=report.signed_at)
            if not signed:
                _check_open_for(_current_state(current), user)
                raise review_conflict(_("This study changed while you were signing it; reload it."))
            report.save()
            Label.objects.create(
                study=current, report=report, task=findings.label_task(current.kind),
                value=corrected_class or ai_value, ai_value=ai_value, agreed=agree,
            )
            _replace_report_pdf(current, artifact)
            audit(user, current.id, Action.SIGNED, request=request,
                  detail=f"agreed with {ai_value}" if agree else f"corrected {ai_value or '-'} to {corrected_class}")
    except BaseException:
        delete_files([artifact.file.name])
        raise
    return report


def report_add_addendum(*, user: User, study: Study, text: str, request: HttpRequest | None = None) -> Addendum:
    """Add to a signed report; the report itself stays as it was signed, and the PDF is
    rendered again with the addenda after it."""
    require_reviewer(user)
    text = _plain_text(text)
    if not text:
        raise ValidationError({"text": _("Write the addendum.")})
    written: list[str] = []
    try:
        with transaction.atomic():
            # Serialises addenda to one study, so each PDF holds every addendum before it.
            current = Study.objects.select_for_update().get(id=study.id)
            report = Report.objects.filter(study=current).first()
            if current.review != Review.SIGNED or report is None:
                raise review_conflict(_("Only a signed report takes addenda."))
            addendum = Addendum.objects.create(report=report, author=user, author_name=display_name(user), text=text)
            pdf = render_signed_report_pdf(study=current, report=report)
            artifact = Artifact(study=current, kind=Artifact.Kind.REPORT_PDF)
            artifact.file.save("report.pdf", ContentFile(pdf), save=False)
            written.append(artifact.file.name)
            _replace_report_pdf(current, artifact)
            audit(user, current.id, Action.ADDENDUM, request=request)
    except BaseException:
        delete_files(written)
        raise
    return addendum


def _plain_text(text: str | None) -> str:
    """Browsers send form text with CRLF line breaks; the report keeps plain newlines."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def display_name(user: User) -> str:
    return user.get_full_name().strip() or user.get_username()


def ai_findings_snapshot(study: Study, result: StudyResult | None) -> dict:
    """What the AI said about the study, as plain JSON (see studies.analysis for the
    result's shape): shown beside the sign form and frozen into the report at signing."""
    done = result is not None and study.status == Study.Status.DONE
    data = dict(result.findings) if done and isinstance(result.findings, dict) else {}
    probabilities = {str(k): float(v) for k, v in result.probabilities.items()} if done else {}
    pneumonia = data.get("pneumonia") if isinstance(data.get("pneumonia"), dict) else {}
    thresholds = {"pneumonia": pneumonia["threshold"]} if pneumonia.get("threshold") is not None else {}
    boxes = data.get("boxes")
    return {
        "status": study.status,
        "failure_reason": study.failure_reason if study.status == Study.Status.FAILED else "",
        "urgency": int(study.urgency),
        "ai_class": findings.ai_class(study, result),
        "top_class": result.top_class if done else "",
        "top_probability": probabilities.get(result.top_class) if done else None,
        "probabilities": probabilities,
        "classes": [dict(row, threshold=thresholds.get(row["code"])) for row in _ranked(probabilities)],
        # ct-pathology's threshold applies to the sum of every class but "normal"
        "abnormal_threshold": data.get("pathology_threshold"),
        "pneumonia_type": _ranked(data.get("pneumonia_type")),
        "opacity": _ranked(data.get("opacity")),
        "boxes": len(boxes) if isinstance(boxes, list) else None,
        "nodules": [
            {"slice": n.z, "row": n.y, "column": n.x, "status": n.status,
             "probability": n.probability, "threshold": n.threshold}
            for n in study.nodules.all()
        ],
        "models": [{"name": str(m.get("name", "")), "version": str(m.get("version", ""))}
                   for m in (result.models if done else []) if isinstance(m, dict)],
        "not_installed": [str(name) for name in data.get("not_installed") or []],
        "gate_reasons": _gate_reasons(study, result),
        "findings": {key: value for key, value in data.items() if key not in _BULKY_FINDINGS},
    }


# Worker bookkeeping and viewer geometry, not findings.
_BULKY_FINDINGS = frozenset({"timings", "image_size", "volume"})


def _gate_reasons(study: Study, result: StudyResult | None) -> list[str]:
    """The input gate's reason codes when it refused the image (studies.assessability)."""
    if result is None or study.status != Study.Status.NOT_ASSESSABLE:
        return []
    return assessability.gate_codes(result.findings)


def _ranked(probabilities) -> list[dict]:
    if not isinstance(probabilities, dict):
        return []
    rows = [{"code": str(code), "probability": float(p)} for code, p in probabilities.items()]
    return sorted(rows, key=lambda row: row["probability"], reverse=True)


def _current_state(study: Study) -> Study:
    return Study.objects.select_related("claimed_by").get(id=study.id)


def _result_of(study: Study) -> StudyResult | None:
    try:
        return study.result
    except StudyResult.DoesNotExist:
        return None


def _check_open_for(study: Study, user: User) -> None:
    """Raise a 409 ApplicationError unless `user` may sign `study` now."""
    if study.review == Review.SIGNED:
        raise review_conflict(_("This study is already signed; add an addendum instead."))
    if study.review not in OPEN_REVIEWS or study.kind not in RADIOLOGY_KINDS:
        raise review_conflict(_("This study does not need a radiologist's review."))
    if study.review == Review.IN_REVIEW and study.claimed_by_id not in (None, user.id):
        raise review_conflict(_conflict_message(study, user))


def _conflict_message(study: Study, user: User) -> str:
    if study.review == Review.SIGNED:
        return _("This study is already signed; add an addendum instead.")
    if study.review == Review.IN_REVIEW and study.claimed_by_id != user.id:
        holder = display_name(study.claimed_by) if study.claimed_by else _("another radiologist")
        return _("%(name)s is reviewing this study.") % {"name": holder}
    if study.review not in OPEN_REVIEWS or study.kind not in RADIOLOGY_KINDS:
        return _("This study does not need a radiologist's review.")
    return _("This study changed meanwhile; reload it.")


def _replace_report_pdf(study: Study, artifact: Artifact) -> None:
    """Store `artifact` (its file already written) as the study's PDF; the file of the
    one it replaces is deleted once the transaction commits."""
    replaced = list(Artifact.objects.filter(study=study, kind=Artifact.Kind.REPORT_PDF).values_list("file", flat=True))
    Artifact.objects.filter(study=study, kind=Artifact.Kind.REPORT_PDF).delete()
    artifact.save()
    transaction.on_commit(lambda: delete_files(replaced))


def require_reviewer(user: User) -> None:
    permissions.require(permissions.may_review(user), NOT_A_REVIEWER)
