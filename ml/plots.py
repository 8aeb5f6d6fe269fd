"""Evaluation plots of a classifier's probabilities on one split: ROC curve, reliability
diagram and confusion matrix, as PNG files beside its weights.

A two-class model is drawn at its decision threshold, as it is served; the model card
(:mod:`ml.cards`) links the plots it finds.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # a bare Figure draws with Agg: no GUI, no pyplot state

from ml.metrics import confusion_matrix, expected_calibration_error, roc_auc, roc_curve

PLOT_KINDS = {"roc": "ROC curve", "calibration": "Reliability diagram",
              "confusion": "Confusion matrix"}
SPLIT_NAMES = {"train": "Train", "val": "Validation", "test": "Test"}
DPI = 100
CALIBRATION_BINS = 10  # as ml.metrics.expected_calibration_error bins by default


def save_plots(directory: Path, probabilities: np.ndarray, labels: np.ndarray,
               classes: list[str], *, threshold: float | None, split: str) -> list[Path]:
    """``roc_<split>.png``, ``calibration_<split>.png`` and ``confusion_<split>.png`` in
    ``directory``. A two-class model is judged at ``threshold`` on the second class's
    probability (0.5 when None), as it is served; more classes by the most probable one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels).astype(int)
    threshold = judged_at(classes, threshold)
    predicted = predicted_labels(probabilities, threshold)
    title = SPLIT_NAMES.get(split, split).lower()
    drawers = {
        "roc": lambda figure: _draw_roc(figure.add_subplot(), probabilities, labels, classes,
                                        threshold=threshold, title=title),
        "calibration": lambda figure: _draw_calibration(figure, probabilities, labels, title),
        "confusion": lambda figure: _draw_confusion(figure.add_subplot(), labels, predicted,
                                                    classes, threshold=threshold, title=title),
    }
    paths = []
    for kind, draw in drawers.items():
        size = (5.2, 4.8) if kind == "confusion" and len(classes) > 3 else (4.8, 4.2)
        figure = Figure(figsize=size, dpi=DPI, layout="constrained")
        draw(figure)
        path = directory / f"{kind}_{split}.png"
        figure.savefig(path, dpi=DPI)
        paths.append(path)
    return paths


def judged_at(classes: list[str], threshold: float | None) -> float | None:
    """The threshold a two-class model is judged at (0.5 when it has none); None for more
    classes, which are judged by the most probable one."""
    if len(classes) != 2:
        return None
    return 0.5 if threshold is None else float(threshold)


def predicted_labels(probabilities: np.ndarray, threshold: float | None) -> np.ndarray:
    """The served decision: the second class at ``threshold`` on its probability, or the
    most probable class when there is no threshold."""
    if threshold is not None and probabilities.shape[1] == 2:
        return (probabilities[:, 1] >= threshold).astype(int)
    return probabilities.argmax(axis=1)


def _draw_roc(axes, probabilities, labels, classes, *, threshold, title) -> None:
    axes.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance")
    if len(classes) == 2:
        positive, scores = labels == 1, probabilities[:, 1]
        fpr, tpr, _ = roc_curve(positive, scores)
        axes.plot(fpr, tpr, linewidth=2, label=f"AUC {format_number(roc_auc(positive, scores))}")
        sensitivity = (scores[positive] >= threshold).mean() if positive.any() else math.nan
        specificity = (scores[~positive] < threshold).mean() if (~positive).any() else math.nan
        axes.plot(1 - specificity, sensitivity, "o", color="C3", markersize=8,
                  label=f"threshold {threshold:.3f}\nsens {format_number(sensitivity)}, "
                        f"spec {format_number(specificity)}")
        axes.set_title(f"ROC, {title}: {classes[1]} vs {classes[0]}")
    else:
        for index, name in enumerate(classes):
            positive = labels == index
            if positive.all() or not positive.any():
                continue  # no curve without both positives and negatives
            fpr, tpr, _ = roc_curve(positive, probabilities[:, index])
            axes.plot(fpr, tpr, linewidth=1.5,
                      label=f"{name} {format_number(roc_auc(positive, probabilities[:, index]))}")
        axes.set_title(f"ROC, {title}: each class vs rest (AUC)")
    axes.set_xlabel("False positive rate (1 − specificity)")
    axes.set_ylabel("True positive rate (sensitivity)")
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.01)
    axes.set_aspect("equal")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)


def calibration_bins(probabilities: np.ndarray, labels: np.ndarray,
                     bins: int = CALIBRATION_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean confidence, accuracy and count of the predicted class in each equal-width
    confidence bin (NaN where empty), binned as ``expected_calibration_error`` bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    means, accuracies, counts = np.full(bins, np.nan), np.full(bins, np.nan), np.zeros(bins, int)
    for index, (low, high) in enumerate(itertools.pairwise(edges)):
        inside = (confidence > low) & (confidence <= high)
        counts[index] = inside.sum()
        if inside.any():
            means[index] = confidence[inside].mean()
            accuracies[index] = correct[inside].mean()
    return means, accuracies, counts


def _draw_calibration(figure, probabilities, labels, title) -> None:
    """Accuracy per confidence bin against the diagonal, the bin's mean confidence marked on
    it, and below it how many images each bin holds (how far to trust it)."""
    means, accuracies, counts = calibration_bins(probabilities, labels)
    width = 1 / len(counts)
    lefts = np.arange(len(counts)) * width
    reliability, histogram = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    reliability.bar(lefts, np.nan_to_num(accuracies), width=width, align="edge", color="C0",
                    edgecolor="white", label="accuracy")
    filled = counts > 0
    reliability.hlines(means[filled], lefts[filled], lefts[filled] + width, colors="C3",
                       linewidth=2.5, label="mean confidence")
    reliability.plot([0, 1], [0, 1], linestyle="--", color="0.3", linewidth=1,
                     label="perfect calibration")
    ece = expected_calibration_error(labels, probabilities, bins=len(counts))
    reliability.set_title(f"Calibration, {title}: ECE {ece:.3f}")
    reliability.set_ylabel("Accuracy in bin")
    reliability.set_ylim(0, 1)
    reliability.legend(loc="upper left", fontsize=8)
    histogram.bar(lefts, counts, width=width, align="edge", color="0.6", edgecolor="white")
    histogram.set_xlim(0, 1)
    histogram.set_ylabel("Count")
    histogram.set_xlabel("Confidence (probability of the predicted class)")


def _draw_confusion(axes, labels, predicted, classes, *, threshold, title) -> None:
    matrix = confusion_matrix(labels, predicted, len(classes))
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    size = 9 if len(classes) <= 3 else 7
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, f"{count}\n{100 * shares[row, column]:.0f}%", ha="center",
                  va="center", fontsize=size,
                  color="white" if shares[row, column] > 0.5 else "black")
    ticks = range(len(classes))
    axes.set_xticks(ticks, classes, rotation=45 if len(classes) > 3 else 0, fontsize=8)
    axes.set_yticks(ticks, classes, fontsize=8)
    axes.set_xlabel("Predicted")
    axes.set_ylabel("True")
    rule = f"threshold {threshold:.3f}" if threshold is not None else "most probable class"
    axes.set_title(f"Confusion, {title} ({rule})\ncount and % of the true class", fontsize=10)


def format_number(value: object) -> str:
    """Three decimals with a true minus sign; an en dash for a missing or undefined value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.3f}".replace("-", "−")  # a minus sign, unlike a hyphen, reads as one
