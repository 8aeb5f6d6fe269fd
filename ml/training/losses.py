"""Losses for imbalanced medical classification."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ml.training.config import ClassifierConfig

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, *, gamma: float = 2.0,
               weight: torch.Tensor | None = None, label_smoothing: float = 0.0) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_t) ** gamma, so that
    easy, confident examples of the majority class count for less."""
    log_probabilities = F.log_softmax(logits.float(), dim=-1)
    cross_entropy = F.nll_loss(log_probabilities, targets, weight=weight, reduction="none")
    if label_smoothing:
        smooth = -log_probabilities.mean(dim=-1)
        cross_entropy = (1 - label_smoothing) * cross_entropy + label_smoothing * smooth
    p_true = log_probabilities.gather(1, targets[:, None]).squeeze(1).exp()
    return ((1 - p_true) ** gamma * cross_entropy).mean()


def classification_loss(config: ClassifierConfig, class_weights: torch.Tensor) -> LossFunction:
    """The loss the config names (``loss: cross_entropy`` or ``focal``), as f(logits, targets)."""
    smoothing = config.label_smoothing
    if config.loss == "cross_entropy":
        return lambda logits, targets: F.cross_entropy(
            logits.float(), targets, weight=class_weights, label_smoothing=smoothing)
    if config.loss == "focal":
        return lambda logits, targets: focal_loss(
            logits, targets, gamma=config.focal_gamma, weight=class_weights,
            label_smoothing=smoothing)
    raise ValueError(f"unknown loss {config.loss!r}; one of cross_entropy, focal")
