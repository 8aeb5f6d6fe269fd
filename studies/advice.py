"""What the skin classes mean for the person who uploaded the photo: names and urgency.

The one place that turns a class code from the model into words for people.
"""
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ml.skin_urgency import ROUTINE, SOON, skin_urgency

CLASS_NAMES: dict[str, Promise] = {
    "akiec": _("Actinic keratosis / intraepithelial carcinoma"),
    "bcc": _("Basal cell carcinoma"),
    "bkl": _("Benign keratosis"),
    "df": _("Dermatofibroma"),
    "mel": _("Melanoma"),
    "nv": _("Melanocytic nevus (mole)"),
    "vasc": _("Vascular lesion"),
}


_ADVICE = {
    SOON: _("See a dermatologist soon (within two weeks)"),
    ROUTINE: _(
        "Likely benign; monitor it and see a doctor if it changes "
        "(size, shape, colour, bleeding, itching)"
    ),
}

DISCLAIMER = _("This is decision support produced by a computer model, not a diagnosis. Please see a doctor.")


@dataclass(frozen=True)
class Urgency:
    level: str  # SOON or ROUTINE
    advice: str


def class_name(code: str) -> str:
    return str(CLASS_NAMES.get(code, code))


def urgency_for(probabilities: dict[str, float]) -> Urgency:
    """The advice for a photo's class probabilities (the rule: ml.skin_urgency)."""
    level = skin_urgency(probabilities)
    return Urgency(level=level, advice=str(_ADVICE[level]))
