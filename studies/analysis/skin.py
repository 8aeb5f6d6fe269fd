"""The pre-read of a skin photo: classifier, segmenter and Grad-CAM (unless the input gate
refuses the photo), the overlays and the patient's PDF report."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from PIL import Image

from ml.timing import StageTimer
from studies.analysis.outcome import Outcome, encoded, gate_findings, model_list, rounded, write_artifacts
from studies.intake.photos import open_photo, working_copy
from studies.models import Artifact, Study, StudyResult
from studies.reports import render_report_pdf


def preread_skin_photo(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    import ml  # noqa: PLC0415  worker only: web processes never load torch

    upload = study.upload
    if upload is None:
        raise ValueError("the study has no photo")
    with upload.file.open("rb") as stored:
        photo = working_copy(open_photo(stored))
    analysis = ml.analyse_skin_photo(photo, weights_dir=settings.ML_WEIGHTS_DIR, progress=progress)
    timer = StageTimer(progress)
    timer.seconds.update(analysis.timings)
    if not analysis.gate.assessable:
        return _not_assessable(study, photo, analysis, timer=timer, written=written)

    with timer.stage(Study.Stage.OVERLAYS.value):
        outline = ml.draw_outline(photo, analysis.lesion_mask)
        heatmap = ml.draw_heatmap(photo, analysis.heatmap)
    result = StudyResult(
        study=study,
        top_class=analysis.top_class,
        probabilities={name: float(p) for name, p in analysis.probabilities.items()},
        lesion_area_fraction=float(analysis.lesion_area_fraction),
        models=model_list(analysis.models),
        findings={"image_size": list(photo.size), "gate": gate_findings(analysis.gate)},
    )
    with timer.stage(Study.Stage.REPORT.value):
        pdf = render_report_pdf(study=study, result=result, photo=photo, outline=outline, heatmap=heatmap)
    with timer.stage(Study.Stage.SAVING.value):  # files only; the rows follow
        artifacts = write_artifacts(study, written, {
            Artifact.Kind.OUTLINE: ("outline.jpg", encoded(outline, "JPEG")),
            Artifact.Kind.HEATMAP: ("heatmap.jpg", encoded(heatmap, "JPEG")),
            Artifact.Kind.REPORT_PDF: ("report.pdf", pdf),
        })
    result.findings["timings"] = rounded(timer.seconds)
    return Outcome(result, artifacts, None)


def _not_assessable(study: Study, photo: Image.Image, analysis, *, timer: StageTimer,
                    written: list[str]) -> Outcome:
    """The input gate refused the photo: no class, no outline, no heatmap; the report says
    why and what to do."""
    result = StudyResult(
        study=study, top_class="", probabilities={}, lesion_area_fraction=None,
        models=model_list(analysis.models),
        findings={"image_size": list(photo.size), "gate": gate_findings(analysis.gate)},
    )
    with timer.stage(Study.Stage.REPORT.value):
        pdf = render_report_pdf(study=study, result=result, photo=photo, outline=None, heatmap=None)
    with timer.stage(Study.Stage.SAVING.value):
        artifacts = write_artifacts(study, written, {Artifact.Kind.REPORT_PDF: ("report.pdf", pdf)})
    result.findings["timings"] = rounded(timer.seconds)
    return Outcome(result, artifacts, None, assessable=False)
