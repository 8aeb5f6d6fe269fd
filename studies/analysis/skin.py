"""The pre-read of a skin photo: classifier, segmenter and Grad-CAM, the overlays and the
patient's PDF report."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from studies.analysis.outcome import Outcome, encoded, gate_findings, model_list, rounded, write_artifacts
from studies.intake.photos import open_photo, working_copy
from studies.models import Artifact, Study, StudyResult
from studies.reports import render_report_pdf


def preread_skin_photo(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    import ml  # noqa: PLC0415  here, not at the top: web processes never load torch

    upload = study.upload
    if upload is None:
        raise ValueError("the study has no photo")
    with upload.file.open("rb") as stored:
        photo = working_copy(open_photo(stored))
    analysis = ml.analyse_skin_photo(photo, weights_dir=settings.ML_WEIGHTS_DIR, progress=progress)
    timings = {stage: float(seconds) for stage, seconds in analysis.timings.items()}
    if not analysis.gate.assessable:
        return _not_assessable(study, photo, analysis, timings=timings, progress=progress, written=written)

    progress(Study.Stage.OVERLAYS)
    started = time.perf_counter()
    outline = ml.draw_outline(photo, analysis.lesion_mask)
    heatmap = ml.draw_heatmap(photo, analysis.heatmap)
    timings["overlays"] = time.perf_counter() - started
    result = StudyResult(
        study=study,
        top_class=analysis.top_class,
        probabilities={name: float(p) for name, p in analysis.probabilities.items()},
        lesion_area_fraction=float(analysis.lesion_area_fraction),
        models=model_list(analysis.models),
        findings={"timings": timings, "image_size": list(photo.size), "gate": gate_findings(analysis.gate)},
    )

    progress(Study.Stage.REPORT)
    started = time.perf_counter()
    pdf = render_report_pdf(study=study, result=result, photo=photo, outline=outline, heatmap=heatmap)
    timings["report"] = time.perf_counter() - started

    progress(Study.Stage.SAVING)
    started = time.perf_counter()
    artifacts = write_artifacts(study, written, {
        Artifact.Kind.OUTLINE: ("outline.jpg", encoded(outline, "JPEG")),
        Artifact.Kind.HEATMAP: ("heatmap.jpg", encoded(heatmap, "JPEG")),
        Artifact.Kind.REPORT_PDF: ("report.pdf", pdf),
    })
    timings["saving"] = time.perf_counter() - started  # files only; the rows follow
    result.findings["timings"] = rounded(timings)
    return Outcome(result, artifacts, None)


def _not_assessable(study: Study, photo, analysis, *, timings: dict, progress: Callable[[str], None],
                    written: list[str]) -> Outcome:
    """The input gate refused the photo: no class, no outline, no heatmap; the report says
    why and what to do."""
    result = StudyResult(
        study=study, top_class="", probabilities={}, lesion_area_fraction=None,
        models=model_list(analysis.models),
        findings={"timings": rounded(timings), "image_size": list(photo.size), "gate": gate_findings(analysis.gate)},
    )
    progress(Study.Stage.REPORT)
    pdf = render_report_pdf(study=study, result=result, photo=photo, outline=None, heatmap=None)
    progress(Study.Stage.SAVING)
    artifacts = write_artifacts(study, written, {Artifact.Kind.REPORT_PDF: ("report.pdf", pdf)})
    return Outcome(result, artifacts, None, assessable=False)
