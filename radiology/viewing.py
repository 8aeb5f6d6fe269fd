"""What the review page's image viewer (static/js/viewer.js) is given: the URLs of the
study's display image or CT volume, its geometry, and the AI's overlays in the viewer's
coordinates."""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from accounts import permissions
from studies import selectors
from studies.analysis.ct import original_to_viewer
from studies.models import Study
from radiology.models import Nodule


# The viewer's words (static/js/viewer.js, its TEXT object), translated by the page.
VIEWER_TEXTS = (
    gettext_noop("Loading image…"), gettext_noop("The image could not be loaded."),
    gettext_noop("The image could not be loaded (HTTP {status})"),
    gettext_noop("The image data does not match its size ({got} bytes instead of {expected})."),
    gettext_noop("The image description is invalid."),
    gettext_noop("The AI overlay could not be loaded; the image is shown without it."),
    gettext_noop("X-ray"), gettext_noop("Axial"), gettext_noop("Coronal"), gettext_noop("Sagittal"),
    gettext_noop("{plane} image"), gettext_noop("{plane} slice"), gettext_noop("New mark"),
    gettext_noop("Viewer tools"), gettext_noop("Pan"), gettext_noop("Window"), gettext_noop("Crosshair"),
    gettext_noop("Mark nodule"), gettext_noop("Lung"), gettext_noop("Mediastinum"), gettext_noop("Bone"),
    gettext_noop("Full range"), gettext_noop("W"), gettext_noop("L"), gettext_noop("Window width"),
    gettext_noop("Window level"), gettext_noop("Zoom in"), gettext_noop("Zoom out"), gettext_noop("Reset view"),
    gettext_noop("AI overlays"),
)


def viewer_strings() -> dict[str, str]:
    return {text: gettext(text) for text in VIEWER_TEXTS}


def viewer_context(study: Study, request: HttpRequest) -> dict | None:
    """The viewer's data attributes and the marked nodules; None when there is nothing to
    show yet (the pre-read has not built the display image or volume)."""
    result = getattr(study, "result", None) if study.status == Study.Status.DONE else None
    files = selectors.files_visible_to(request.user, study)
    if result is None:
        return None

    def url(kind: str) -> str:
        return reverse("studies:study_file", kwargs={"study_id": study.id, "kind": kind}) if kind in files else ""

    can_mark = False
    nodules: list[Nodule] = []
    if study.kind == Study.Kind.CHEST_XRAY and "image" in files:
        attrs = {"data-kind": "xray", "data-image-url": url("image"), "data-heatmap-url": url("heatmap-layer"),
                 "data-boxes": json.dumps(result.findings.get("boxes") or [])}
    elif study.kind == Study.Kind.CT and "volume" in files and "volume" in result.findings:
        volume = result.findings["volume"]
        nodules = list(study.nodules.all())
        can_mark = permissions.may_review(request.user)
        attrs = {"data-kind": "ct", "data-volume-url": url("volume"),
                 "data-shape": json.dumps(volume["shape"]), "data-spacing": json.dumps(volume["spacing"]),
                 "data-markers": json.dumps([marker(volume, n) for n in nodules])}
        if can_mark:
            attrs["data-mark"] = "true"
    else:
        return None
    return {
        "attrs": {name: value for name, value in attrs.items() if value != ""},
        "nodules": nodules,
        "can_mark": can_mark,
        "nodules_url": reverse("radiology-api:study-nodules", kwargs={"study_id": study.id}),
        "strings": viewer_strings(),
    }


def marker(volume: dict, nodule: Nodule) -> dict:
    z, y, x = original_to_viewer(volume, (nodule.z, nodule.y, nodule.x))
    label = f"{nodule.probability:.2f}" if nodule.probability is not None else "…"
    return {"z": z, "y": y, "x": x, "label": f"#{nodule.id} {label}"}
