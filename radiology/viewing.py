"""What the review page's image viewer (static/js/viewer/) is given: the URLs of the
study's display image or CT volume, its geometry, the AI's overlays in the viewer's
coordinates, and the viewer's words and window presets."""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from accounts import permissions
from radiology.models import Nodule
from studies import selectors
from studies.analysis.ct import original_to_viewer
from studies.models import Study

# The viewer's words, under the keys static/js/viewer/ looks them up by. They and the window
# presets live only here: the page gives them to the viewer as JSON (viewer_config).
VIEWER_STRINGS = {
    "loading": gettext_noop("Loading image…"),
    "loadFailed": gettext_noop("The image could not be loaded."),
    "loadFailedHttp": gettext_noop("The image could not be loaded (HTTP {status})"),
    "sizeMismatch": gettext_noop("The image data does not match its size ({got} bytes instead of {expected})."),
    "badDescription": gettext_noop("The image description is invalid."),
    "overlayFailed": gettext_noop("The AI overlay could not be loaded; the image is shown without it."),
    "xray": gettext_noop("X-ray"), "axial": gettext_noop("Axial"),
    "coronal": gettext_noop("Coronal"), "sagittal": gettext_noop("Sagittal"),
    "planeImage": gettext_noop("{plane} image"), "slice": gettext_noop("{plane} slice"),
    "newMark": gettext_noop("New mark"), "toolbar": gettext_noop("Viewer tools"),
    "pan": gettext_noop("Pan"), "window": gettext_noop("Window"),
    "crosshair": gettext_noop("Crosshair"), "mark": gettext_noop("Mark nodule"),
    "widthShort": gettext_noop("W"), "levelShort": gettext_noop("L"),
    "width": gettext_noop("Window width"), "level": gettext_noop("Window level"),
    "zoomIn": gettext_noop("Zoom in"), "zoomOut": gettext_noop("Zoom out"),
    "resetView": gettext_noop("Reset view"), "overlays": gettext_noop("AI overlays"),
}

# (name, window width, window level): Hounsfield units on a CT, grey levels on an X-ray.
# The viewer opens with the first.
WINDOW_PRESETS = {
    "ct": ((gettext_noop("Lung"), 1500, -600), (gettext_noop("Mediastinum"), 350, 50),
           (gettext_noop("Bone"), 2000, 500)),
    "xray": ((gettext_noop("Full range"), 256, 128),),
}


def viewer_config() -> dict:
    """The viewer's words in the active language and its window presets, for the page's
    `json_script` "viewer-config"."""
    return {
        "strings": {key: gettext(text) for key, text in VIEWER_STRINGS.items()},
        "presets": {kind: [{"name": gettext(name), "width": width, "level": level} for name, width, level in presets]
                    for kind, presets in WINDOW_PRESETS.items()},
    }


def viewer_context(study: Study, request: HttpRequest) -> dict | None:
    """The viewer's data attributes and the marked nodules; None when there is nothing to
    show yet (the pre-read has not built the display image or volume)."""
    finished = study.status in (Study.Status.DONE, Study.Status.NOT_ASSESSABLE)
    result = getattr(study, "result", None) if finished else None
    files = selectors.files_visible_to(user=request.user, study=study)
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
        "config": viewer_config(),
    }


def marker(volume: dict, nodule: Nodule) -> dict:
    z, y, x = original_to_viewer(volume, (nodule.z, nodule.y, nodule.x))
    label = f"{nodule.probability:.2f}" if nodule.probability is not None else "…"
    return {"z": z, "y": y, "x": x, "label": f"#{nodule.id} {label}"}
