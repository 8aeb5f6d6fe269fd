"""Choosing decision rules on the validation split and reporting metrics with intervals.

Everything here works on the probabilities the serving path produces, so the reported
numbers are those of the model as it is served.
"""

from __future__ import annotations

import numpy as np
import torch

from ml.metrics import (
    binary_metrics,
    bootstrap_intervals,
    classification_metrics,
    threshold_at_sensitivity,
    youden_threshold,
)

REPORTED_WITH_INTERVALS = {
    "binary": {"accuracy", "auc", "gini", "sensitivity", "specificity", "balanced_accuracy",
               "f1", "ece"},
    "multiclass": {"accuracy", "balanced_accuracy", "macro_f1"},
}


def choose_threshold(rule: str, labels: np.ndarray, positive_scores: np.ndarray) -> float:
    """``youden`` or ``sensitivity:0.95`` (the highest threshold reaching that sensitivity)."""
    if rule == "youden":
        return youden_threshold(labels, positive_scores)
    name, _, value = str(rule).partition(":")
    if name == "sensitivity" and value:
        return threshold_at_sensitivity(labels, positive_scores, float(value))
    raise ValueError(f"unknown threshold rule {rule!r}; use youden or sensitivity:0.95")


def prior_correction_strength(logits: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor,
                              classes: list[str]) -> float:
    """The strength of logit adjustment (Menon et al. 2021) that best balances accuracy and
    balanced accuracy on the validation split."""
    best_tau, best_score = 0.0, -1.0
    for tau in np.linspace(0.0, 1.0, 11):
        adjusted = logits - tau * torch.log(prior)
        metrics = classification_metrics(labels.numpy(), adjusted.argmax(1).numpy(), classes)
        score = (metrics["accuracy"] + metrics["balanced_accuracy"]) / 2
        if score > best_score + 1e-9:
            best_tau, best_score = float(tau), score
    return best_tau


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray, classes: list[str],
                           *, threshold: float | None, groups: list[str] | None = None,
                           bootstrap_samples: int = 0) -> dict:
    """Metrics of one split; for two classes at ``threshold`` on the second class's score.
    With ``bootstrap_samples``, 95% intervals resampling ``groups`` (patients)."""
    labels = np.asarray(labels)
    if len(classes) == 2:
        def metric(y, p):
            return binary_metrics(y, p, threshold)

        scores = probabilities[:, 1]
        kind = "binary"
    else:
        def metric(y, p):
            return classification_metrics(y, p.argmax(1), classes)

        scores = probabilities
        kind = "multiclass"
    result = metric(labels, scores)
    if bootstrap_samples:
        result["ci95"] = bootstrap_intervals(metric, labels, scores, groups=groups,
                                             samples=bootstrap_samples,
                                             keys=REPORTED_WITH_INTERVALS[kind])
    return result
