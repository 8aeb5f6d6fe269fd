"""The pre-read of a chest X-ray: pneumonia, its type, lung opacity where installed, the
Grad-CAM for the viewer and the report, and the AI urgency."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from PIL import Image

from studies.analysis.outcome import URGENCY, Outcome, encoded, gate_findings, model_list, rounded, write_artifacts
from studies.intake.photos import open_photo
from studies.intake.scans import DICOM_CONTENT_TYPE
from studies.models import Artifact, Study, StudyFile, StudyResult

# The longest side of the X-ray image kept for the viewer and the report.
DISPLAY_MAX_SIDE = 2048


def preread_radiograph(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    import ml  # noqa: PLC0415  worker only: web processes never load torch
    from ml.chest import analyse_radiograph, radiograph_urgency  # noqa: PLC0415  worker only (torch)
    from ml.overlays import heatmap_layer  # noqa: PLC0415  worker only (torch)

    uploaded = display_image(study.upload)
    analysis = analyse_radiograph(uploaded, weights_dir=settings.ML_WEIGHTS_DIR, progress=progress)
    image = uploaded.convert("L")
    if not analysis.gate.assessable:
        return _not_assessable(study, image, analysis, progress=progress, written=written)
    progress(Study.Stage.OVERLAYS)
    overlay = ml.draw_heatmap(image.convert("RGB"), analysis.heatmap)
    positive = analysis.pneumonia_probability >= analysis.pneumonia_threshold
    findings = {
        "pneumonia": {"probability": analysis.pneumonia_probability,
                      "threshold": analysis.pneumonia_threshold, "positive": positive},
        "pneumonia_type": analysis.pneumonia_type,
        "opacity": analysis.opacity,
        "boxes": None if analysis.boxes is None else [_box(box) for box in analysis.boxes],
        "not_installed": analysis.not_installed,
        "image_size": list(image.size),
        "timings": rounded(analysis.timings),
        "gate": gate_findings(analysis.gate),
    }
    result = StudyResult(
        study=study,
        top_class="pneumonia" if positive else "normal",
        probabilities={"normal": 1.0 - analysis.pneumonia_probability,
                       "pneumonia": analysis.pneumonia_probability},
        models=model_list(analysis.models),
        findings=findings,
    )
    progress(Study.Stage.SAVING)
    artifacts = write_artifacts(study, written, {
        Artifact.Kind.IMAGE: ("image.png", encoded(image, "PNG")),
        Artifact.Kind.HEATMAP: ("heatmap.jpg", encoded(overlay, "JPEG")),
        Artifact.Kind.HEATMAP_LAYER: ("heatmap-layer.png", encoded(heatmap_layer(analysis.heatmap), "PNG")),
    })
    return Outcome(result, artifacts, URGENCY[radiograph_urgency(analysis)])


def display_image(upload: StudyFile | None) -> Image.Image:
    """The display image of an X-ray: the DICOM's VOI transform (grey), or the image file as
    it is (its colour tells the input gate whether it is a film at all)."""
    from ml.dicom import radiograph_image  # noqa: PLC0415  worker only (see above)

    if upload is None:
        raise ValueError("the study has no image")
    with upload.file.open("rb") as stored:
        image = radiograph_image(stored) if upload.content_type == DICOM_CONTENT_TYPE else open_photo(stored)
    if max(image.size) > DISPLAY_MAX_SIDE:
        image.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def _box(box) -> dict:
    return {"x0": float(box.x), "y0": float(box.y), "x1": float(box.x + box.width),
            "y1": float(box.y + box.height), "label": str(box.label), "score": float(box.score)}


def _not_assessable(study: Study, image: Image.Image, analysis, *, progress: Callable[[str], None],
                    written: list[str]) -> Outcome:
    """The input gate refused the image: the radiologist reads it without an AI finding,
    heatmap or urgency; the display image is kept for the viewer."""
    result = StudyResult(
        study=study, top_class="", probabilities={}, models=model_list(analysis.models),
        findings={"gate": gate_findings(analysis.gate), "image_size": list(image.size),
                  "timings": rounded(analysis.timings)},
    )
    progress(Study.Stage.SAVING)
    artifacts = write_artifacts(study, written, {Artifact.Kind.IMAGE: ("image.png", encoded(image, "PNG"))})
    return Outcome(result, artifacts, Study.Urgency.NOT_ASSESSED, assessable=False)
