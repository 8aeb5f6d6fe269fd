"""The worker's analysis of a study: the models run on a skin photo, an X-ray or a CT series
and their outputs become a StudyResult, the artifacts (overlays, the patient's PDF report,
the viewer's image or volume) and, for radiology, the AI urgency that orders the worklist.

Called by diagnosis.services.study_analyse, which owns the study's status and the storing.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image

from diagnosis.imaging import open_photo, working_copy
from diagnosis.ingest.studies import DICOM_CONTENT_TYPE
from diagnosis.models import Artifact, Nodule, Study, StudyFile, StudyResult
from diagnosis.reports import render_report_pdf

# The longest side of the X-ray image kept for the viewer and the report.
DISPLAY_MAX_SIDE = 2048

URGENCY = {"urgent": Study.Urgency.URGENT, "routine": Study.Urgency.ROUTINE,
           "unknown": Study.Urgency.NOT_ASSESSED}


@dataclass
class Outcome:
    result: StudyResult
    artifacts: list[Artifact]  # files written, rows not saved yet
    urgency: int | None  # None for a skin photo (its advice comes from the probabilities)


def analyse(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    """Run the models for the study's kind; every file written is listed in ``written`` so
    that the caller can delete them if storing fails."""
    analyses = {Study.Kind.SKIN_PHOTO: analyse_skin_study, Study.Kind.CHEST_XRAY: analyse_radiograph_study,
                Study.Kind.CT: analyse_ct_study}
    return analyses[study.kind](study, progress=progress, written=written)


def analyse_skin_study(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    import ml

    upload = study.upload
    if upload is None:
        raise ValueError("the study has no photo")
    with upload.file.open("rb") as stored:
        photo = working_copy(open_photo(stored))
    analysis = ml.analyse_skin_photo(photo, weights_dir=settings.ML_WEIGHTS_DIR, progress=progress)
    timings = {stage: float(seconds) for stage, seconds in analysis.timings.items()}

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
        models=[{"name": model.name, "version": model.version} for model in analysis.models],
        findings={"timings": timings, "image_size": list(photo.size)},
    )

    progress(Study.Stage.REPORT)
    started = time.perf_counter()
    pdf = render_report_pdf(study=study, result=result, photo=photo, outline=outline, heatmap=heatmap)
    timings["report"] = time.perf_counter() - started

    progress(Study.Stage.SAVING)
    started = time.perf_counter()
    artifacts = _artifacts(study, written, {
        Artifact.Kind.OUTLINE: ("outline.jpg", _encoded(outline, "JPEG")),
        Artifact.Kind.HEATMAP: ("heatmap.jpg", _encoded(heatmap, "JPEG")),
        Artifact.Kind.REPORT_PDF: ("report.pdf", pdf),
    })
    timings["saving"] = time.perf_counter() - started  # files only; the rows follow
    result.findings["timings"] = _rounded(timings)
    return Outcome(result, artifacts, None)


def analyse_radiograph_study(study: Study, *, progress: Callable[[str], None],
                             written: list[str]) -> Outcome:
    import ml
    from ml.chest import analyse_radiograph, radiograph_urgency
    from ml.overlays import heatmap_layer

    upload = study.upload
    image = _radiograph(upload)
    analysis = analyse_radiograph(image, weights_dir=settings.ML_WEIGHTS_DIR, progress=progress)
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
        "timings": _rounded(analysis.timings),
    }
    result = StudyResult(
        study=study,
        top_class="pneumonia" if positive else "normal",
        probabilities={"normal": 1.0 - analysis.pneumonia_probability,
                       "pneumonia": analysis.pneumonia_probability},
        models=[{"name": m.name, "version": m.version} for m in analysis.models],
        findings=findings,
    )
    progress(Study.Stage.SAVING)
    artifacts = _artifacts(study, written, {
        Artifact.Kind.IMAGE: ("image.png", _encoded(image, "PNG")),
        Artifact.Kind.HEATMAP: ("heatmap.jpg", _encoded(overlay, "JPEG")),
        Artifact.Kind.HEATMAP_LAYER: ("heatmap-layer.png", _encoded(heatmap_layer(analysis.heatmap), "PNG")),
    })
    return Outcome(result, artifacts, URGENCY[radiograph_urgency(analysis)])


def analyse_ct_study(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    from ml.ct import analyse_ct, ct_urgency

    progress(Study.Stage.VOLUME)
    with local_files(list(study.files.all())) as paths:
        analysis = analyse_ct(paths, weights_dir=settings.ML_WEIGHTS_DIR, progress=progress)
    top_class = ""
    if analysis.pathology is not None:
        top_class = max(analysis.pathology, key=analysis.pathology.get)
    findings = {
        "pathology_threshold": analysis.pathology_threshold,
        "volume": {"shape": list(analysis.viewer_volume.shape), "spacing": list(analysis.viewer_spacing),
                   "original_shape": list(analysis.shape), "original_spacing": list(analysis.spacing)},
        "not_installed": analysis.not_installed,
        "timings": _rounded(analysis.timings),
    }
    result = StudyResult(
        study=study, top_class=top_class, probabilities=dict(analysis.pathology or {}),
        models=[{"name": m.name, "version": m.version} for m in analysis.models], findings=findings,
    )
    progress(Study.Stage.SAVING)
    volume = np.ascontiguousarray(analysis.viewer_volume, dtype="<i2").tobytes()
    contents = {Artifact.Kind.VOLUME: ("volume.raw", volume)}
    for kind, image in ((Artifact.Kind.AXIAL, analysis.previews["axial"]),
                        (Artifact.Kind.CORONAL, analysis.previews["coronal"]),
                        (Artifact.Kind.SAGITTAL, analysis.previews["sagittal"]),
                        (Artifact.Kind.MONTAGE, analysis.montage)):
        contents[kind] = (f"{kind}.png", _encoded(image, "PNG"))
    artifacts = _artifacts(study, written, contents)
    return Outcome(result, artifacts, URGENCY[ct_urgency(analysis)])


def score_nodule(nodule: Nodule) -> None:
    """Score the nodule model around a marked point and store it on ``nodule`` (saved)."""
    from ml.ct import score_nodule as score

    with local_files(list(nodule.study.files.all())) as paths:
        scored = score(paths, (nodule.z, nodule.y, nodule.x), weights_dir=settings.ML_WEIGHTS_DIR)
    planes = [scored.cam_images[name].convert("RGB") for name in ("axial", "coronal", "sagittal")]
    strip = Image.new("RGB", (sum(p.width for p in planes) + 8 * (len(planes) - 1), max(p.height for p in planes)))
    left = 0
    for plane in planes:
        strip.paste(plane, (left, 0))
        left += plane.width + 8
    nodule.probability = float(scored.probability)
    nodule.threshold = float(scored.threshold)
    nodule.model = {"name": scored.model.name, "version": scored.model.version}
    nodule.status = Nodule.Status.DONE
    nodule.failure_reason = ""
    nodule.heatmap.save("nodule.png", ContentFile(_encoded(strip, "PNG")), save=False)
    nodule.save()


def viewer_to_original(study: Study, point: tuple[int, int, int]) -> tuple[int, int, int]:
    """A voxel of the viewer's (downsampled) volume -> the voxel of the original series."""
    volume = study.result.findings["volume"]
    return tuple(
        int(min(size - 1, max(0, round((v + 0.5) * size / shown - 0.5))))
        for v, size, shown in zip(point, volume["original_shape"], volume["shape"])
    )


def original_to_viewer(volume: dict, point: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(
        int(min(shown - 1, max(0, round((v + 0.5) * shown / size - 0.5))))
        for v, size, shown in zip(point, volume["original_shape"], volume["shape"])
    )


@contextlib.contextmanager
def local_files(files: list[StudyFile]) -> Iterator[list[Path]]:
    """Paths of the stored files: the files themselves on local disk, temporary copies when
    the storage has no paths (S3)."""
    storage = StudyFile.file.field.storage
    try:
        yield [Path(storage.path(f.file.name)) for f in files]
        return
    except NotImplementedError:
        pass
    folder = Path(tempfile.mkdtemp(prefix="study-"))
    try:
        paths = []
        for index, study_file in enumerate(files):
            path = folder / f"{index:05d}.dcm"
            with study_file.file.open("rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
            paths.append(path)
        yield paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _radiograph(upload: StudyFile | None) -> Image.Image:
    """The greyscale display image of an X-ray: the DICOM's VOI transform, or the image file."""
    from ml.dicom import radiograph_image

    if upload is None:
        raise ValueError("the study has no image")
    with upload.file.open("rb") as stored:
        if upload.content_type == DICOM_CONTENT_TYPE:
            image = radiograph_image(stored)
        else:
            image = open_photo(stored).convert("L")
    if max(image.size) > DISPLAY_MAX_SIDE:
        image.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def _artifacts(study: Study, written: list[str], contents: dict[str, tuple[str, bytes]]) -> list[Artifact]:
    artifacts = []
    for kind, (name, data) in contents.items():
        artifact = Artifact(study=study, kind=kind)
        artifact.file.save(name, ContentFile(data), save=False)
        written.append(artifact.file.name)
        artifacts.append(artifact)
    return artifacts


def _box(box) -> dict:
    return {"x0": float(box.x), "y0": float(box.y), "x1": float(box.x + box.width),
            "y1": float(box.y + box.height), "label": str(box.label), "score": float(box.score)}


def _encoded(image: Image.Image, image_format: str) -> bytes:
    """Overlays are photographs with drawing on them: JPEG at high quality is a tenth of the
    size of a PNG and a hundred times faster to encode. Display images and previews that a
    radiologist reads stay lossless (PNG)."""
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
    else:
        image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _rounded(timings: dict) -> dict:
    return {stage: round(float(seconds), 4) for stage, seconds in timings.items()}
