"""Evaluation metrics, in plain NumPy so that training and evaluation compute them one way."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence

import numpy as np
from numpy.typing import ArrayLike


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def classification_metrics(labels: ArrayLike, predictions: ArrayLike,
                           classes: Sequence[str]) -> dict:
    """accuracy, balanced accuracy (mean recall over classes present), macro F1, per class."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    matrix = confusion_matrix(labels, predictions, len(classes))
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    true_positive = np.diag(matrix).astype(float)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive),
                          where=predicted > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive),
                   where=denominator > 0)
    present = support > 0
    return {
        "n": len(labels),
        "accuracy": float(true_positive.sum() / max(len(labels), 1)),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "recall": {c: float(r) for c, r, p in zip(classes, recall, present, strict=True) if p},
        "precision": {c: float(p) for c, p in zip(classes, precision, strict=True)},
        "support": {c: int(s) for c, s in zip(classes, support, strict=True)},
        "confusion_matrix": matrix.tolist(),
    }


def mask_scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """IoU and Dice of two bool masks; two empty masks agree perfectly."""
    intersection = np.logical_and(truth, predicted).sum()
    union = np.logical_or(truth, predicted).sum()
    total = truth.sum() + predicted.sum()
    iou = 1.0 if union == 0 else intersection / union
    dice = 1.0 if total == 0 else 2 * intersection / total
    return float(iou), float(dice)


def segmentation_metrics(ious: list[float], dices: list[float], threshold: float = 0.65) -> dict:
    """Means over images; ``thresholded_iou`` is ISIC 2018's (an IoU under 0.65 counts as 0)."""
    ious_array = np.asarray(ious, dtype=float)
    return {
        "n": len(ious_array),
        "mean_iou": float(ious_array.mean()) if len(ious_array) else 0.0,
        "mean_dice": float(np.mean(dices)) if len(dices) else 0.0,
        "thresholded_iou": float(np.where(ious_array >= threshold, ious_array, 0.0).mean())
        if len(ious_array) else 0.0,
    }


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (the Mann-Whitney U statistic, ties counted half)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    rank_sum = ranks[labels].sum()
    return float((rank_sum - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))


def roc_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold (score >= threshold)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    thresholds = np.r_[np.inf, np.unique(scores)[::-1]]
    tpr = np.array([(scores[labels] >= t).mean() if labels.any() else 0.0 for t in thresholds])
    fpr = np.array([(scores[~labels] >= t).mean() if (~labels).any() else 0.0 for t in thresholds])
    return fpr, tpr, thresholds


def youden_threshold(labels: ArrayLike, scores: ArrayLike) -> float:
    """The threshold that maximises sensitivity + specificity - 1."""
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], 1.0))


def threshold_at_sensitivity(labels: ArrayLike, scores: ArrayLike, sensitivity: float) -> float:
    """The highest threshold whose sensitivity is at least ``sensitivity`` (for screening)."""
    _, tpr, thresholds = roc_curve(labels, scores)
    reaching = np.flatnonzero(tpr >= sensitivity)
    return float(min(thresholds[reaching[0]], 1.0)) if len(reaching) else 0.0


def expected_calibration_error(labels: ArrayLike, probabilities: ArrayLike, bins: int = 10) -> float:
    """ECE of the predicted class's confidence, in equal-width confidence bins."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim == 1:
        probabilities = np.stack([1 - probabilities, probabilities], axis=1)
    labels = np.asarray(labels)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def binary_metrics(labels: ArrayLike, positive_scores: ArrayLike, threshold: float) -> dict:
    """Metrics of a two-class model whose positive class is predicted at score >= threshold."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(positive_scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    positives, negatives = labels == 1, labels == 0
    sensitivity = float(predicted[positives].mean()) if positives.any() else float("nan")
    specificity = float((1 - predicted[negatives]).mean()) if negatives.any() else float("nan")
    true_positive = int((predicted & labels).sum())
    precision = true_positive / max(int(predicted.sum()), 1)
    f1 = 2 * precision * sensitivity / (precision + sensitivity) if precision + sensitivity else 0.0
    auc = roc_auc(labels, scores)
    return {
        "n": len(labels),
        "threshold": float(threshold),
        "accuracy": float((predicted == labels).mean()),
        "auc": auc,
        "gini": 2 * auc - 1,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "precision": float(precision),
        "f1": float(f1),
        "balanced_accuracy": (sensitivity + specificity) / 2,
        "ece": expected_calibration_error(labels, scores),
        "confusion_matrix": confusion_matrix(labels, predicted, 2).tolist(),
    }


def bootstrap_intervals(metric_fn: Callable[[np.ndarray, np.ndarray], dict], labels: ArrayLike,
                        scores: ArrayLike, *, groups: ArrayLike | None = None,
                        samples: int = 1000, seed: int = 0,
                        keys: Collection[str] | None = None) -> dict[str, list[float]]:
    """95% percentile intervals of ``metric_fn(labels, scores)``'s numeric values, resampling
    whole groups (patients) with replacement when ``groups`` is given, else items."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    rng = np.random.default_rng(seed)
    if groups is None:
        groups = np.arange(len(labels))
    groups = np.asarray(groups)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    values: dict[str, list[float]] = {}
    for _ in range(samples):
        chosen = rng.integers(0, len(unique), len(unique))
        index = np.concatenate([members[g] for g in chosen])
        result = metric_fn(labels[index], scores[index])
        for key, value in result.items():
            if (keys is None or key in keys) and isinstance(value, float) and np.isfinite(value):
                values.setdefault(key, []).append(value)
    return {key: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
            for key, v in values.items()}
