"""A patient's skin photo: classification, lesion segmentation and Grad-CAM."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ml.datasets.ham10000 import CLASSES as SKIN_CLASSES
from ml.gradcam import grad_cam
from ml.overlays import resize_map
from ml.registry import load_installed

SKIN_CLASSIFIER = "skin-classifier"
SKIN_SEGMENTER = "skin-segmenter"
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str


@dataclass
class SkinAnalysis:
    top_class: str
    probabilities: dict[str, float]
    lesion_mask: np.ndarray
    lesion_area_fraction: float
    heatmap: np.ndarray
    models: list[ModelInfo]
    timings: dict[str, float] = field(default_factory=dict)


def analyse_skin_photo(photo: Image.Image, *, weights_dir: Path | None = None,
                       progress: Callable[[str], None] | None = None) -> SkinAnalysis:
    """Classify the lesion, outline it and explain the classification.

    Raises ``ModelNotInstalled`` before any work if either model is missing.
    """
    weights_dir = Path(weights_dir or DEFAULT_WEIGHTS_DIR)
    report = progress or (lambda stage: None)
    photo = photo.convert("RGB")
    classifier = load_installed(SKIN_CLASSIFIER, weights_dir)
    segmenter = load_installed(SKIN_SEGMENTER, weights_dir)
    timings = {}

    report("classification")
    started = time.perf_counter()
    inputs = classifier.input_tensor(photo)
    probabilities = classifier.predict_batch(inputs)[0]
    top_index = int(np.argmax(probabilities))
    timings["classification"] = time.perf_counter() - started

    report("segmentation")
    started = time.perf_counter()
    mask = segmenter.predict_mask(photo)
    timings["segmentation"] = time.perf_counter() - started

    report("gradcam")
    started = time.perf_counter()
    heatmap = grad_cam(classifier.network, classifier.target_layer(), inputs, top_index)
    heatmap = resize_map(heatmap, (photo.height, photo.width))
    timings["gradcam"] = time.perf_counter() - started

    return SkinAnalysis(
        top_class=classifier.classes[top_index],
        probabilities={c: float(p) for c, p in zip(classifier.classes, probabilities)},
        lesion_mask=mask,
        lesion_area_fraction=float(mask.mean()),
        heatmap=heatmap,
        models=[ModelInfo(m.metadata.name, m.metadata.version) for m in (classifier, segmenter)],
        timings=timings,
    )


__all__ = ["SKIN_CLASSES", "ModelInfo", "SkinAnalysis", "analyse_skin_photo"]
