"""What the AI found in a radiology study, in the terms the radiologist reviews and corrects.

The worker stores the models' outputs in StudyResult (see studies.analysis); this module
names the one finding per study that a radiologist agrees with or corrects, and the classes
a correction may choose from. A signed report turns it into a Label for training.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from studies.models import Study, StudyResult

# kind -> (label task, {class: human name}); the first class is the normal one
CLASSES = {
    Study.Kind.CHEST_XRAY: ("chest-xray", {
        "normal": _("Normal"),
        "bacterial": _("Bacterial pneumonia"),
        "viral": _("Viral pneumonia"),
        "pneumonia": _("Pneumonia"),
        "other": _("Other abnormality"),
    }),
    Study.Kind.CT: ("chest-ct", {
        "normal": _("Normal"),
        "nodule-benign": _("Nodule, likely benign"),
        "nodule-malignant": _("Nodule, suspicious for malignancy"),
        "pathology": _("Other abnormality"),
    }),
}


def label_task(kind: str) -> str:
    return CLASSES[kind][0]


def class_choices(kind: str) -> list[tuple[str, str]]:
    return [(value, str(name)) for value, name in CLASSES.get(kind, ("", {}))[1].items()]


def class_name(kind: str, value: str) -> str:
    return str(CLASSES.get(kind, ("", {}))[1].get(value, value))


def ai_class(study: Study, result: StudyResult | None) -> str:
    """The AI's overall finding for the study in the classes above; "" when it made none
    (the models were not installed, or the pre-read failed)."""
    if result is None or study.status != Study.Status.DONE or not result.top_class:
        return ""
    if study.kind == Study.Kind.CHEST_XRAY:
        if result.top_class != "pneumonia":
            return "normal"
        kinds = result.findings.get("pneumonia_type") or {}
        types = {name: p for name, p in kinds.items() if name in ("bacterial", "viral")}
        return max(types, key=types.get) if types else "pneumonia"
    if study.kind == Study.Kind.CT:
        return "normal" if result.top_class == "normal" else "pathology"
    return ""
