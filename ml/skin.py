"""A patient's skin photo: classification, lesion segmentation and Grad-CAM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ml.datasets.ham10000 import CLASSES as SKIN_CLASSES
from ml.gradcam import grad_cam
from ml.input_gate import NOT_GATED, Gate, lesion_measures, photo_measures
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelInfo, load_installed, model_info
from ml.overlays import resize_map
from ml.skin_urgency import DEFAULT_SOON_PROBABILITY
from ml.timing import StageTimer

SKIN_CLASSIFIER = "skin-classifier"
SKIN_SEGMENTER = "skin-segmenter"


@dataclass
class SkinAnalysis:
    """What the models say of a photo. When the input gate refuses it (``gate.assessable``
    false) there is no class: ``top_class`` is "", ``probabilities`` empty, no heatmap."""

    top_class: str
    probabilities: dict[str, float]
    lesion_mask: np.ndarray
    lesion_area_fraction: float
    heatmap: np.ndarray | None
    models: list[ModelInfo]
    timings: dict[str, float] = field(default_factory=dict)
    gate: Gate = NOT_GATED
    # the cancers' combined probability from which the advice is "see a dermatologist soon"
    soon_probability: float = DEFAULT_SOON_PROBABILITY


def analyse_skin_photo(photo: Image.Image, *, weights_dir: Path | None = None,
                       progress: Callable[[str], None] | None = None) -> SkinAnalysis:
    """Classify the lesion, outline it and explain the classification, unless the input
    gate finds the photo one the classifier cannot judge (then no class is given).

    Raises ``ModelNotInstalled`` before any work if either model is missing.
    """
    weights_dir = Path(weights_dir or DEFAULT_WEIGHTS_DIR)
    photo = photo.convert("RGB")
    classifier = load_installed(SKIN_CLASSIFIER, weights_dir)
    segmenter = load_installed(SKIN_SEGMENTER, weights_dir)
    timer = StageTimer(progress)

    with timer.stage("classification"):
        inputs = classifier.input_tensor(photo)
        probabilities = classifier.predict_batch(inputs)[0]
        top_index = int(np.argmax(probabilities))

    with timer.stage("segmentation"):
        mask = segmenter.predict_mask(photo)
        measures = {**photo_measures(photo, classifier.metadata.input_size), **lesion_measures(mask)}
        gate = classifier.gate(inputs, measures)
    models = [model_info(classifier), model_info(segmenter)]
    if not gate.assessable:
        return SkinAnalysis(top_class="", probabilities={}, lesion_mask=mask, lesion_area_fraction=float(mask.mean()),
                            heatmap=None, models=models, timings=timer.seconds, gate=gate)

    with timer.stage("gradcam"):
        heatmap = grad_cam(classifier.network, classifier.target_layer(), inputs, top_index)
        heatmap = resize_map(heatmap, (photo.height, photo.width))

    return SkinAnalysis(
        top_class=classifier.classes[top_index],
        probabilities={c: float(p) for c, p in zip(classifier.classes, probabilities, strict=True)},
        lesion_mask=mask,
        lesion_area_fraction=float(mask.mean()),
        heatmap=heatmap,
        models=models,
        timings=timer.seconds,
        gate=gate,
        soon_probability=float(classifier.metadata.thresholds.get("soon", DEFAULT_SOON_PROBABILITY)),
    )


__all__ = ["SKIN_CLASSES", "SkinAnalysis", "analyse_skin_photo"]
