"""A chest radiograph's pre-read: pneumonia (with Grad-CAM), its type, lung opacity and
opacity boxes, from whichever of those models are installed.

``pneumonia`` is required; the others are optional and reported as not installed, never
replaced by a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ml.datasets.rsna import CLASSES as OPACITY_CLASSES
from ml.gradcam import grad_cam
from ml.input_gate import NOT_GATED, Gate, colour_measures
from ml.installed import DEFAULT_WEIGHTS_DIR, InstalledModel, ModelInfo, ModelNotInstalled, load_installed, model_info
from ml.overlays import resize_map
from ml.timing import StageTimer
from ml.ultralytics_adapter import Box

PNEUMONIA = "pneumonia"
PNEUMONIA_TYPE = "pneumonia-type"
LUNG_OPACITY = "lung-opacity"
LUNG_OPACITY_BOXES = "lung-opacity-boxes"
OPACITY_CLASS = OPACITY_CLASSES[-1]  # "Lung Opacity"


@dataclass
class RadiographAnalysis:
    pneumonia_probability: float
    pneumonia_threshold: float  # the installed model's decision threshold
    pneumonia_type: dict[str, float] | None  # None when pneumonia-type is not installed
    opacity: dict[str, float] | None  # lung-opacity's class probabilities
    boxes: list[Box] | None  # lung-opacity-boxes' detections, in the input image's pixels
    heatmap: np.ndarray | None  # Grad-CAM of the pneumonia class, float32 [0, 1], the input's HxW
    models: list[ModelInfo]  # every model that ran
    not_installed: list[str]  # optional models that did not run
    timings: dict[str, float] = field(default_factory=dict)
    # lung-opacity's threshold on OPACITY_CLASS; None: its served decision is the top class
    opacity_threshold: float | None = None
    # pneumonia's input gate: when it refuses the image, no model's output is given
    gate: Gate = NOT_GATED


def analyse_radiograph(image: Image.Image, *, weights_dir: Path | None = None,
                       progress: Callable[[str], None] | None = None) -> RadiographAnalysis:
    """Run the chest radiograph models on a display image: ``radiograph_image`` of a CR/DX
    file, or an image file as uploaded (its colour is one of the input gate's measures; the
    models see it in grey).

    Raises ``ModelNotInstalled`` before any work if ``pneumonia`` is missing. ``progress``
    is told "classification", "gradcam", then "detection" when the box model is installed.
    """
    weights_dir = Path(weights_dir or DEFAULT_WEIGHTS_DIR)
    colour = colour_measures(image)
    image = image.convert("L")
    pneumonia = load_installed(PNEUMONIA, weights_dir)
    optional = {name: _load_optional(name, weights_dir)
                for name in (PNEUMONIA_TYPE, LUNG_OPACITY, LUNG_OPACITY_BOXES)}
    kind, opacity_model, detector = optional.values()
    timer = StageTimer(progress)

    with timer.stage("classification"):
        inputs = pneumonia.input_tensor(image)
        gate = pneumonia.gate(inputs, colour)
        if not gate.assessable:
            return _not_assessable(pneumonia, gate, timer.seconds)
        positive = pneumonia.classes.index(PNEUMONIA)
        probability = float(pneumonia.predict_batch(inputs)[0][positive])
        pneumonia_type = kind.predict(image) if kind is not None else None
        opacity = opacity_model.predict(image) if opacity_model is not None else None

    with timer.stage("gradcam"):
        heatmap = grad_cam(pneumonia.network, pneumonia.target_layer(), inputs, positive)
        heatmap = resize_map(heatmap, (image.height, image.width)).clip(0, 1)

    boxes = None
    if detector is not None:
        with timer.stage("detection"):
            boxes = detector.predict_boxes(image)

    ran = [pneumonia, *(model for model in optional.values() if model is not None)]
    return RadiographAnalysis(
        pneumonia_probability=probability,
        pneumonia_threshold=float(pneumonia.metadata.thresholds.get(PNEUMONIA, 0.5)),
        pneumonia_type=pneumonia_type,
        opacity=opacity,
        boxes=boxes,
        heatmap=heatmap,
        models=[model_info(model) for model in ran],
        not_installed=[name for name, model in optional.items() if model is None],
        timings=timer.seconds,
        opacity_threshold=(opacity_model.metadata.thresholds.get(OPACITY_CLASS)
                           if opacity_model is not None else None),
        gate=gate,
    )


def _not_assessable(pneumonia: InstalledModel, gate: Gate, timings: dict[str, float]) -> RadiographAnalysis:
    """The gate refused the image: no probability (NaN), no heatmap, no other model run."""
    return RadiographAnalysis(
        pneumonia_probability=float("nan"),
        pneumonia_threshold=float(pneumonia.metadata.thresholds.get(PNEUMONIA, 0.5)),
        pneumonia_type=None, opacity=None, boxes=None, heatmap=None, models=[model_info(pneumonia)],
        not_installed=[], timings=timings, gate=gate)


def radiograph_urgency(analysis: RadiographAnalysis) -> str:
    """"urgent" or "routine", for ordering a worklist. Urgent when any of:

    - the pneumonia probability is at or above the pneumonia model's threshold;
    - lung-opacity boxes ran and found at least one box (its own confidence cut applied);
    - lung-opacity ran and its "Lung Opacity" probability is at or above that model's
      threshold, or, when the model has no threshold, "Lung Opacity" is its top class.

    Models that are not installed add nothing; pneumonia-type never changes urgency.
    """
    if analysis.pneumonia_probability >= analysis.pneumonia_threshold:
        return "urgent"
    if analysis.boxes:
        return "urgent"
    if analysis.opacity is not None:
        score = analysis.opacity[OPACITY_CLASS]
        if analysis.opacity_threshold is None:
            flagged = score >= max(analysis.opacity.values())
        else:
            flagged = score >= analysis.opacity_threshold
        if flagged:
            return "urgent"
    return "routine"


def _load_optional(name: str, weights_dir: Path) -> InstalledModel | None:
    try:
        return load_installed(name, weights_dir)
    except ModelNotInstalled:
        return None
