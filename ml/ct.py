"""A chest CT series' pre-read: previews, a light volume for the browser viewer and, when
installed, the whole-volume pathology score; on demand, the malignancy score of a nodule a
radiologist has marked, with its 3D Grad-CAM.

The series is decoded once into one float32 volume; everything else is small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ml.ct_previews import montage, orthogonal_previews, viewer_volume, windowed
from ml.datasets.ct_series import CLASSES as CT_CLASSES
from ml.dicom import read_series, read_series_layout, read_slices
from ml.gradcam import grad_cam
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelInfo, ModelNotInstalled, load_installed, model_info
from ml.metadata import ModelMetadata
from ml.overlays import draw_heatmap
from ml.timing import StageTimer
from ml.volumes import Volume, crop_around, fit_volume, volume_to_input

CT_PATHOLOGY = "ct-pathology"
NODULE_MALIGNANCY = "nodule-malignancy"
NORMAL_CLASS = CT_CLASSES[0]
CAM_IMAGE_SIZE = 128  # pixels along the longest side of the three nodule pictures


@dataclass
class CTAnalysis:
    shape: tuple[int, int, int]  # the original volume (slices, rows, columns)
    spacing: tuple[float, float, float]  # mm (slice, row, column)
    pathology: dict[str, float] | None  # ct-pathology's probabilities, None if not installed
    pathology_threshold: float | None
    previews: dict[str, Image.Image]  # "axial", "coronal", "sagittal", lung window
    montage: Image.Image
    viewer_volume: np.ndarray  # int16 HU, rows and columns <= 256 (see ct_previews)
    viewer_spacing: tuple[float, float, float]
    models: list[ModelInfo]
    not_installed: list[str]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class NoduleScore:
    probability: float  # of malignancy
    threshold: float
    positive: bool
    centre: tuple[int, int, int]  # voxel (slice, row, column) in the original volume
    cam_images: dict[str, Image.Image]  # "axial", "coronal", "sagittal" with Grad-CAM over
    model: ModelInfo


def analyse_ct(files: list[Path], *, weights_dir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> CTAnalysis:
    """Read one CT series and prepare what the worklist and viewer show. ``progress`` is
    told "reading", "classification" (only when ct-pathology is installed), "previews"."""
    weights_dir = Path(weights_dir or DEFAULT_WEIGHTS_DIR)
    try:
        classifier = load_installed(CT_PATHOLOGY, weights_dir)
    except ModelNotInstalled:
        classifier = None
    timer = StageTimer(progress)

    with timer.stage("reading"):
        volume = read_series(files)

    pathology = threshold = None
    if classifier is not None:
        with timer.stage("classification"):
            probabilities = classifier.predict_batch(volume_to_input(volume, classifier.metadata))[0]
            pathology = {c: float(p) for c, p in zip(classifier.classes, probabilities, strict=True)}
            threshold = positive_threshold(classifier.metadata)

    with timer.stage("previews"):
        previews = orthogonal_previews(volume)
        sheet = montage(volume)
        viewer, viewer_spacing = viewer_volume(volume)

    return CTAnalysis(
        shape=tuple(volume.hu.shape), spacing=tuple(volume.spacing),
        pathology=pathology, pathology_threshold=threshold,
        previews=previews, montage=sheet,
        viewer_volume=viewer, viewer_spacing=viewer_spacing,
        models=[model_info(classifier)] if classifier is not None else [],
        not_installed=[] if classifier is not None else [CT_PATHOLOGY],
        timings=timer.seconds,
    )


def ct_urgency(analysis: CTAnalysis) -> str:
    """"urgent" when ct-pathology's probability of anything but "normal" is at or above
    its threshold, "routine" when it ran and is below, "unknown" when it is not installed
    (no result is ever guessed)."""
    if analysis.pathology is None:
        return "unknown"
    abnormal = sum(p for c, p in analysis.pathology.items() if c != NORMAL_CLASS)
    return "urgent" if abnormal >= analysis.pathology_threshold else "routine"


def nodule_malignancy(files: list[Path], centre: tuple[int, int, int], *,
                 weights_dir: Path | None = None) -> NoduleScore:
    """The malignancy score of the nodule at voxel ``centre`` (slice, row, column of the
    series in slice order, as ``analyse_ct`` sees it). Only the slices the model's patch
    covers are decoded; beyond the series' ends the patch is air."""
    model = load_installed(NODULE_MALIGNANCY, Path(weights_dir or DEFAULT_WEIGHTS_DIR))
    metadata = model.metadata
    layout = read_series_layout(files)
    if len(centre) != 3 or not all(0 <= int(c) < n for c, n in zip(centre, layout.shape, strict=True)):
        raise ValueError(f"centre {tuple(centre)} is outside the volume {layout.shape}")
    centre = tuple(int(c) for c in centre)
    shape = patch_shape(layout.spacing, metadata)
    half = shape[0] // 2
    slab = read_slices(layout, range(centre[0] - half, centre[0] + half + 1))
    patch = Volume(hu=crop_around(slab.hu, (half, centre[1], centre[2]), shape),
                   spacing=layout.spacing)

    inputs = volume_to_input(patch, metadata)
    positive = 1  # a two-class model decides on its second class, "malignant"
    probability = float(model.predict_batch(inputs)[0][positive])
    cam = grad_cam(model.network, model.target_layer(), inputs, positive)
    threshold = positive_threshold(metadata)
    return NoduleScore(
        probability=probability, threshold=threshold, positive=probability >= threshold,
        centre=centre,
        cam_images=cam_images(fit_volume(patch, metadata), cam, metadata.voxel_spacing),
        model=model_info(model),
    )


def positive_threshold(metadata: ModelMetadata) -> float:
    """The installed decision threshold on the second class (0.5 if training set none)."""
    return float(metadata.thresholds.get(metadata.classes[1], 0.5))


def patch_shape(spacing: Sequence[float], metadata: ModelMetadata) -> tuple[int, int, int]:
    """Voxels of the original grid that cover the model's input extent (its input size times
    its voxel spacing) with one voxel to spare on each side; odd, so the centre voxel is the
    middle one."""
    if not metadata.voxel_spacing:
        raise ValueError(f"{metadata.name} has no voxel spacing: it is not a patch model")
    halves = [math.ceil(size * target / 2 / have) + 1
              for size, target, have in zip(metadata.input_size, metadata.voxel_spacing, spacing, strict=True)]
    return tuple(2 * half + 1 for half in halves)


def cam_images(hu: np.ndarray, cam: np.ndarray,
               spacing: Sequence[float]) -> dict[str, Image.Image]:
    """The three central planes of a patch (lung window, head up) with its Grad-CAM over
    them, all at one scale with the longest side about ``CAM_IMAGE_SIZE`` pixels."""
    depth, rows, columns = hu.shape
    z_mm, row_mm, column_mm = spacing
    mm_per_pixel = max(depth * z_mm, rows * row_mm, columns * column_mm) / CAM_IMAGE_SIZE
    planes = {
        "axial": (hu[depth // 2], cam[depth // 2], (columns * column_mm, rows * row_mm)),
        "coronal": (hu[::-1, rows // 2, :], cam[::-1, rows // 2, :],
                    (columns * column_mm, depth * z_mm)),
        "sagittal": (hu[::-1, :, columns // 2], cam[::-1, :, columns // 2],
                     (rows * row_mm, depth * z_mm)),
    }
    images = {}
    for name, (plane, heat, (width_mm, height_mm)) in planes.items():
        size = (max(1, round(width_mm / mm_per_pixel)), max(1, round(height_mm / mm_per_pixel)))
        picture = Image.fromarray(windowed(plane, "lung")).resize(size, Image.Resampling.BILINEAR)
        images[name] = draw_heatmap(picture, np.ascontiguousarray(heat))
    return images
