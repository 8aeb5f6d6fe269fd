"""Stratified k-fold cross-validation by patient (or lesion), on the train and val splits.

The test split stays untouched. Folds are made of whole groups, stratified by each group's
majority label so that rare classes appear in every fold. Each fold trains a model with that
fold as its validation split; the summary gives the mean and standard deviation of each
validation metric over the folds.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from ml.datasets import LabelledImage, labelled_splits
from ml.training import classifier
from ml.training.config import ClassifierConfig


def group_stratified_folds(items: list[LabelledImage], folds: int, seed: int = 0) -> list[int]:
    """The fold of each item; all items of a group share a fold."""
    labels_of = defaultdict(Counter)
    for item in items:
        labels_of[item.group][item.label] += 1
    by_label = defaultdict(list)
    for group, counts in sorted(labels_of.items()):
        by_label[counts.most_common(1)[0][0]].append(group)
    rng = random.Random(seed)
    fold_of, position = {}, 0
    for label in sorted(by_label):
        groups = by_label[label]
        rng.shuffle(groups)
        for group in groups:
            fold_of[group] = position % folds
            position += 1
    return [fold_of[item.group] for item in items]


def cross_validate(config: ClassifierConfig, run_dir: Path) -> dict:
    """Train ``config.kfold`` models, each validated on its fold; writes and returns the
    summary (``cv_results.json``)."""
    folds = config.kfold
    _, splits = labelled_splits(config.dataset, Path(config.data_dir), config.label_task)
    pool = splits["train"] + splits["val"]
    assignment = group_stratified_folds(pool, folds, config.seed)
    per_fold = []
    for fold in range(folds):
        fold_splits = {
            "train": [item for item, f in zip(pool, assignment, strict=True) if f != fold],
            "val": [item for item, f in zip(pool, assignment, strict=True) if f == fold],
            "test": splits["test"],
        }
        print(f"fold {fold + 1}/{folds}: train={len(fold_splits['train'])} "
              f"val={len(fold_splits['val'])}", flush=True)
        fold_config = dataclasses.replace(config, install_dir=None, bootstrap_samples=0)
        metadata = classifier.train(fold_config, run_dir / f"fold{fold + 1}", splits=fold_splits)
        per_fold.append(metadata.metrics["val"])
    summary = {"folds": folds, "per_fold": per_fold, "mean": {}, "std": {}}
    for key, value in per_fold[0].items():
        if isinstance(value, float):
            values = np.array([m[key] for m in per_fold], dtype=float)
            summary["mean"][key] = float(values.mean())
            summary["std"][key] = float(values.std(ddof=1)) if folds > 1 else 0.0
    (run_dir / "cv_results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("cross-validation: " + " ".join(f"{k}={summary['mean'][k]:.4f}±{summary['std'][k]:.4f}"
                                          for k in summary["mean"]), flush=True)
    return summary
