"""The input gate: before any class is shown, is this an image the model can judge?

A classifier answers for any input, with confidence, even for a cat or a black square. The
gate measures the input and refuses it, with reason codes, when it falls outside what the
model was fitted on:

- ``distance``: the Mahalanobis distance of the classifier's own pooled features (at its
  Grad-CAM layer) to the nearest class of its training set, with one covariance shared by
  the classes (Lee et al., NeurIPS 2018). Far from every class: not the kind of image the
  model was trained on.
- films only: ``colourfulness`` (a film is grey, a photo is not);
- photos only: ``sharpness`` (variance of the Laplacian at the model's input size),
  ``brightness`` (mean grey level in [0, 1]), and from the segmenter's mask the
  ``lesion_fraction`` of the image and the ``border_fraction`` of the image's edge that the
  lesion covers.

The limits are chosen on the validation split by ``python -m ml.fit_input_gate`` and
stored in the model's metadata (``input_gate``), the class means and precision matrix in
``input_gate.npz`` beside the weights. A model whose metadata has no gate is not gated.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

GATE_FILE = "input_gate.npz"

# (measure, limit key in the metadata, comparison that refuses, reason code)
RULES: tuple[tuple[str, str, Callable[[float, float], bool], str], ...] = (
    ("sharpness", "min_sharpness", operator.lt, "blurred"),
    ("brightness", "min_brightness", operator.lt, "too_dark"),
    ("brightness", "max_brightness", operator.gt, "too_bright"),
    ("lesion_fraction", "min_lesion_fraction", operator.lt, "no_lesion"),
    ("border_fraction", "max_border_fraction", operator.gt, "lesion_cut_off"),
    ("colourfulness", "max_colourfulness", operator.gt, "not_a_chest_radiograph"),
)


@dataclass(frozen=True)
class Gate:
    assessable: bool
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


NOT_GATED = Gate(assessable=True)


@dataclass(frozen=True)
class FeatureDensity:
    """Class means and one shared precision matrix of a classifier's pooled features."""

    means: np.ndarray  # classes x features
    precision: np.ndarray  # features x features

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, shrinkage: float = 1e-3) -> FeatureDensity:
        features = features.astype(np.float64)
        classes = np.unique(labels)
        means = np.stack([features[labels == c].mean(axis=0) for c in classes])
        centred = features - means[np.searchsorted(classes, labels)]
        covariance = centred.T @ centred / max(1, len(features) - len(classes))
        ridge = shrinkage * np.trace(covariance) / len(covariance)
        precision = np.linalg.inv(covariance + ridge * np.eye(len(covariance)))
        return cls(means.astype(np.float32), precision.astype(np.float32))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """The squared Mahalanobis distance of each row to its nearest class mean."""
        differences = features[:, None, :].astype(np.float32) - self.means[None, :, :]
        squared = np.einsum("ncd,de,nce->nc", differences, self.precision, differences)
        return squared.min(axis=1)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, means=self.means, precision=self.precision)

    @classmethod
    def load(cls, path: Path) -> FeatureDensity:
        with np.load(path) as stored:
            return cls(stored["means"], stored["precision"])


@torch.inference_mode()
def pooled_features(network: torch.nn.Module, layer: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """The output of ``layer`` averaged over its spatial axes, for a batch: N x channels."""
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
    try:
        network(inputs)
    finally:
        handle.remove()
    output = captured[0].float()
    return output.flatten(2).mean(dim=2).cpu().numpy()


def photo_measures(photo: Image.Image, size_hw: list[int] | tuple[int, int]) -> dict[str, float]:
    """Sharpness and brightness of a photo at the model's input size (so that a phone's
    12-megapixel photo and a 200x150 training image are measured alike)."""
    height, width = size_hw
    grey = photo.convert("L").resize((width, height), Image.Resampling.BILINEAR)
    values = np.asarray(grey, dtype=np.float32) / 255.0
    laplacian = (values[1:-1, :-2] + values[1:-1, 2:] + values[:-2, 1:-1] + values[2:, 1:-1]
                 - 4.0 * values[1:-1, 1:-1])
    return {"sharpness": float(laplacian.var()), "brightness": float(values.mean())}


def lesion_measures(mask: np.ndarray) -> dict[str, float]:
    """How much of the image the lesion covers, and how much of the image's edge."""
    mask = np.asarray(mask, dtype=bool)
    edge = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return {"lesion_fraction": float(mask.mean()), "border_fraction": float(edge.mean())}


def colour_measures(image: Image.Image) -> dict[str, float]:
    """How colourful an image is: the mean spread of its red, green and blue in [0, 1]. A film
    is grey even when stored as RGB; a photo of skin or of anything else is not."""
    if image.mode in ("L", "I", "I;16", "F", "1"):
        return {"colourfulness": 0.0}
    small = image.convert("RGB")
    small.thumbnail((256, 256))
    values = np.asarray(small, dtype=np.float32) / 255.0
    return {"colourfulness": float((values.max(axis=2) - values.min(axis=2)).mean())}


def judge(scores: dict[str, float], limits: dict, *, distance_reason: str) -> Gate:
    """Refuse when any measure is past its limit; every reason is listed, in rule order."""
    reasons = [reason for measure, key, refuses, reason in RULES
               if measure in scores and limits.get(key) is not None and refuses(scores[measure], limits[key])]
    reasons = list(dict.fromkeys(reasons))
    if "distance" in scores and limits.get("max_distance") is not None and scores["distance"] > limits["max_distance"]:
        reasons = list(dict.fromkeys([*reasons, distance_reason]))
    return Gate(assessable=not reasons, reasons=reasons, scores=scores)


class InputGate:
    """An installed classifier's gate: its limits (metadata) and its feature density."""

    def __init__(self, limits: dict, density: FeatureDensity) -> None:
        self.limits = limits
        self.density = density

    @classmethod
    def load(cls, directory: Path, limits: dict) -> InputGate:
        return cls(limits, FeatureDensity.load(Path(directory) / limits.get("file", GATE_FILE)))

    @property
    def distance_reason(self) -> str:
        return str(self.limits.get("distance_reason", "not_a_lesion"))

    def distance(self, network: torch.nn.Module, layer: torch.nn.Module, inputs: torch.Tensor) -> float:
        return float(self.density.distance(pooled_features(network, layer, inputs))[0])

    def judge(self, scores: dict[str, float]) -> Gate:
        return judge(scores, self.limits, distance_reason=self.distance_reason)
