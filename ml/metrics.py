"""Evaluation metrics, in plain NumPy so that training and evaluation compute them one way."""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def classification_metrics(labels, predictions, classes) -> dict:
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
        "n": int(len(labels)),
        "accuracy": float(true_positive.sum() / max(len(labels), 1)),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "recall": {c: float(r) for c, r, p in zip(classes, recall, present) if p},
        "precision": {c: float(p) for c, p in zip(classes, precision)},
        "support": {c: int(s) for c, s in zip(classes, support)},
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
        "n": int(len(ious_array)),
        "mean_iou": float(ious_array.mean()) if len(ious_array) else 0.0,
        "mean_dice": float(np.mean(dices)) if len(dices) else 0.0,
        "thresholded_iou": float(np.where(ious_array >= threshold, ious_array, 0.0).mean())
        if len(ious_array) else 0.0,
    }
