"""When a skin photo's classes say "see a dermatologist soon": the one rule, used by the
worker, the result page, the PDF and ``ml.evaluate skin-melanoma`` alike. Standard library
only, so that web processes use it without loading torch."""

from __future__ import annotations

from collections.abc import Mapping

SOON = "soon"
ROUTINE = "routine"
KNOWN_CLASSES = frozenset({"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"})  # HAM10000's
SOON_CLASSES = frozenset({"akiec", "bcc", "mel"})  # the skin cancers among them
# A photo is urgent when a skin cancer is the most likely class, or when the cancers
# together are at least this likely although a benign type comes first: missing a melanoma
# costs far more than an early visit. A model may store its own (metadata thresholds
# "soon", chosen on validation for its sensitivity to melanoma).
DEFAULT_SOON_PROBABILITY = 0.30


def skin_urgency(probabilities: Mapping[str, float], soon_probability: float = DEFAULT_SOON_PROBABILITY) -> str:
    """SOON or ROUTINE. An unknown class counts as urgent: erring towards a doctor's visit
    is the safe side."""
    top_class = max(probabilities, key=lambda code: probabilities[code])
    cancer = sum(p for code, p in probabilities.items() if code in SOON_CLASSES)
    routine = top_class in KNOWN_CLASSES and top_class not in SOON_CLASSES and cancer < soon_probability
    return ROUTINE if routine else SOON
