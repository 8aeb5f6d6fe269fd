"""The pre-read of a chest CT series: the volume, ct-pathology where installed, the
previews and the viewer's volume; and the mapping between the viewer's volume and the
original series that nodule marks go through."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from django.conf import settings

from studies.analysis.outcome import URGENCY, Outcome, encoded, model_list, rounded, write_artifacts
from studies.models import Artifact, Study, StudyResult
from studies.storage import local_files


def preread_ct(study: Study, *, progress: Callable[[str], None], written: list[str]) -> Outcome:
    from ml.ct import analyse_ct, ct_urgency  # noqa: PLC0415  worker only: web processes never load torch

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
        "timings": rounded(analysis.timings),
    }
    result = StudyResult(
        study=study, top_class=top_class, probabilities=dict(analysis.pathology or {}),
        models=model_list(analysis.models), findings=findings,
    )
    progress(Study.Stage.SAVING)
    volume = np.ascontiguousarray(analysis.viewer_volume, dtype="<i2").tobytes()
    contents = {Artifact.Kind.VOLUME: ("volume.raw", volume)}
    for kind, image in ((Artifact.Kind.AXIAL, analysis.previews["axial"]),
                        (Artifact.Kind.CORONAL, analysis.previews["coronal"]),
                        (Artifact.Kind.SAGITTAL, analysis.previews["sagittal"]),
                        (Artifact.Kind.MONTAGE, analysis.montage)):
        contents[kind] = (f"{kind}.png", encoded(image, "PNG"))
    artifacts = write_artifacts(study, written, contents)
    return Outcome(result, artifacts, URGENCY[ct_urgency(analysis)])


def viewer_to_original(study: Study, point: tuple[int, int, int]) -> tuple[int, int, int]:
    """A voxel of the viewer's (downsampled) volume -> the voxel of the original series."""
    volume = study.result.findings["volume"]
    z, y, x = (
        int(min(size - 1, max(0, round((v + 0.5) * size / shown - 0.5))))
        for v, size, shown in zip(point, volume["original_shape"], volume["shape"], strict=True)
    )
    return z, y, x


def original_to_viewer(volume: dict, point: tuple[int, int, int]) -> tuple[int, int, int]:
    z, y, x = (
        int(min(shown - 1, max(0, round((v + 0.5) * shown / size - 0.5))))
        for v, size, shown in zip(point, volume["original_shape"], volume["shape"], strict=True)
    )
    return z, y, x
