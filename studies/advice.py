"""What the skin classes mean for the person who uploaded the photo: names and urgency.

The one place that turns a class code from the model into words for people.
"""
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

CLASS_NAMES: dict[str, Promise] = {
    "akiec": _("Actinic keratosis / intraepithelial carcinoma"),
    "bcc": _("Basal cell carcinoma"),
    "bkl": _("Benign keratosis"),
    "df": _("Dermatofibroma"),
    "mel": _("Melanoma"),
    "nv": _("Melanocytic nevus (mole)"),
    "vasc": _("Vascular lesion"),
}

SOON = "soon"
ROUTINE = "routine"

_SOON_CLASSES = frozenset({"akiec", "bcc", "mel"})
# A photo is urgent when a skin cancer type is the most likely class, or when the cancer
# types together are this likely even though a benign type comes first: missing a melanoma
# costs far more than an early visit.
SOON_PROBABILITY = 0.30

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
    """Unknown classes are treated as urgent: erring towards a doctor's visit is the safe side."""
    top_class = max(probabilities, key=probabilities.get)
    cancer_probability = sum(p for code, p in probabilities.items() if code in _SOON_CLASSES)
    routine = (top_class in CLASS_NAMES and top_class not in _SOON_CLASSES
               and cancer_probability < SOON_PROBABILITY)
    level = ROUTINE if routine else SOON
    return Urgency(level=level, advice=str(_ADVICE[level]))
