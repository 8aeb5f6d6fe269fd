"""Why the AI gave no finding for an image it cannot judge, in words a person can act on.

The models' input gate (ml) answers reason codes; this module names them in the user's
language with what to do about each. A study the gate refuses ends `not_assessable`: no
class, no urgency advice, no heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from studies.models import Study


@dataclass(frozen=True)
class Reason:
    code: str
    message: str | Promise
    advice: str | Promise


REASONS = {reason.code: reason for reason in (
    Reason("blurred", _("The photo is blurred."),
           _("Hold the camera still, let it focus on the lesion, and take the photo again.")),
    Reason("too_dark", _("The photo is too dark."),
           _("Take it again in daylight or good indoor light, without a shadow on the skin.")),
    Reason("too_bright", _("The photo is too bright (overexposed)."),
           _("Take it again in even light, without the flash and out of direct sun.")),
    Reason("no_lesion", _("No skin lesion was found in the photo."),
           _("Fill most of the frame with the lesion, about 10 cm away, and take the photo again.")),
    Reason("lesion_cut_off", _("The lesion touches the edge of the photo."),
           _("Move back a little so that the whole lesion and some skin around it are in the frame.")),
    Reason("not_a_lesion", _("This does not look like a close-up photo of a skin lesion."),
           _("Photograph one skin lesion close up; the model cannot judge other pictures.")),
    Reason("not_a_chest_radiograph", _("This image does not look like a frontal chest X-ray."),
           _("The model judges frontal (PA or AP) chest radiographs only; read this image without it.")),
)}

UNKNOWN = Reason("unknown", _("The image cannot be judged by the model."),
                 _("Take or send the image again; if this persists, ask a doctor to look at it."))


def reasons_for(codes: list[str]) -> list[Reason]:
    """The reasons for the gate's codes, in its order; an unknown code still says something."""
    return [REASONS.get(code, UNKNOWN) for code in codes] or [UNKNOWN]


def gate_codes(findings: object) -> list[str]:
    """The reason codes the input gate stored in a result's findings; empty when it accepted
    the image (or there was no gate)."""
    gate = findings.get("gate") if isinstance(findings, dict) else None
    return [str(code) for code in (gate or {}).get("reasons") or []]


def study_reasons(study: Study) -> list[Reason]:
    """Why a not-assessable study has no finding; empty for every other study."""
    if study.status != Study.Status.NOT_ASSESSABLE:
        return []
    result = getattr(study, "result", None)
    return reasons_for(gate_codes(result.findings if result is not None else None))
