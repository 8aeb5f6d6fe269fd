"""Evaluation plots and a markdown model card beside a model's weights.

``python -m ml.cards MODEL DATA_DIR [--split test] [--bootstrap 1000]`` scores an installed
classifier on one split of DATA_DIR through the serving path, draws its ROC curve,
reliability diagram and confusion matrix, and (re)writes ``MODEL_CARD.md`` from the
model's metadata; for the segmenter it writes the card only (DATA_DIR is not read). With
``--bootstrap``, a split whose stored metrics have no 95% intervals gets them, and
``metadata.json`` is rewritten.

The card is written from ``metadata.json`` alone, so it can never claim what the metadata
does not; the plots are drawn from the same probabilities the served model produces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ml.datasets.common import DatasetError, LabelledImage
from ml.evaluate import MODELS, classifier_probabilities
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelNotInstalled, model_dir, read_installed_metadata
from ml.metadata import ModelMetadata
from ml.plots import PLOT_KINDS, SPLIT_NAMES, format_number, save_plots
from ml.training.reporting import evaluate_probabilities

CARD_FILE = "MODEL_CARD.md"

# The rows of the metrics table, in order; a row appears when any split has the metric.
METRIC_NAMES = {
    "n": "n",
    "auc": "ROC AUC",
    "gini": "Gini (2 AUC − 1)",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "precision": "Precision (PPV)",
    "f1": "F1",
    "macro_f1": "Macro F1",
    "ece": "Expected calibration error",
    "mean_iou": "Mean IoU",
    "mean_dice": "Mean Dice",
    "thresholded_iou": "Thresholded IoU (ISIC 2018: IoU < 0.65 counts 0)",
    "map50": "mAP at IoU 0.5",
    "map50_95": "mAP at IoU 0.5 to 0.95",
}
YOLO_TASKS = {"segmentation": "lesion instances", "detection": "boxes"}  # ultralytics models
NOT_A_DIAGNOSIS = (
    "**Decision support, not a diagnosis.** This model's output is one input to a qualified "
    "clinician's judgement and must never be used on its own to diagnose, treat or reassure "
    "a patient."
)


# Model card -----------------------------------------------------------------------------

def write_model_card(directory: Path, metadata: ModelMetadata) -> Path:
    """``MODEL_CARD.md`` in ``directory``, from ``metadata`` and the plots found there."""
    path = Path(directory) / CARD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model_card(metadata, _plots_in(Path(directory))))
    return path


def model_card(metadata: ModelMetadata, plots: list[str] | None = None) -> str:
    """The card's markdown; ``plots`` are file names beside it, linked at the end."""
    metrics = metadata.metrics or {}
    splits = _splits(metrics)
    lines = [f"# {metadata.name} {metadata.version}", "", f"> {NOT_A_DIAGNOSIS}", "",
             "| | |", "|---|---|",
             f"| Task | {metadata.task} |",
             f"| Architecture | {metadata.architecture} (`{metadata.weights_file}`) |",
             f"| Input | {_input(metadata)} |",
             f"| Preprocessing | {_preprocessing(metadata)} |",
             f"| Classes | {', '.join(metadata.classes)} |",
             f"| Decision rule | {_decision_rule(metadata)} |",
             "", "## Intended use", "", metadata.intended_use or "Not stated.",
             "", "## Limitations", "", metadata.limitations or "Not stated.",
             "", "## Training data", "", metadata.training_data or "Not stated.",
             "", "## Split", "", metadata.split or "Not stated."]
    if splits:
        lines += ["", "## Metrics", "",
                  ("Point estimates with 95% bootstrap intervals in brackets where computed "
                   "(resampling whole patients or lesions)."), ""]
        lines += _metrics_table(metrics, splits)
    if len(metadata.classes) > 2 and any("recall" in metrics[s] for s in splits):
        lines += ["", "### Per class", "", *_per_class_table(metrics, splits, metadata.classes)]
    for split in splits:
        if "confusion_matrix" in metrics[split]:
            lines += ["", f"### Confusion matrix, {SPLIT_NAMES.get(split, split).lower()}", "",
                      "Rows are the true class, columns the predicted one.", ""]
            lines += _matrix_table(metrics[split]["confusion_matrix"], metadata.classes)
    if plots:
        lines += ["", "## Plots", ""]
        for name in plots:
            kind, _, split = Path(name).stem.partition("_")
            lines.append(f"![{PLOT_KINDS[kind]}, {SPLIT_NAMES.get(split, split).lower()}]"
                         f"({name})")
    lines += _gate_section(metadata.input_gate)
    lines += _external_section(metadata.external_checks)
    lines += ["", "## Training", "", f"- Machine: {metadata.trained_on or 'not recorded'}",
              f"- Training time: {_duration(metrics.get('training_seconds'))}"]
    if "best_epoch" in metrics:
        lines.append(f"- Best epoch (chosen on validation): {metrics['best_epoch']}")
    if "prior_correction_tau" in metrics:
        lines.append(f"- Prior correction strength: {metrics['prior_correction_tau']:.2f}")
    lines.append(f"- Date: {metadata.created or 'not recorded'}")
    return "\n".join(lines) + "\n"


GATE_LIMITS = {
    "max_distance": "feature distance (Mahalanobis, squared) at most",
    "min_sharpness": "sharpness (variance of the Laplacian) at least",
    "min_brightness": "mean grey level at least", "max_brightness": "mean grey level at most",
    "min_lesion_fraction": "lesion share of the image at least",
    "max_border_fraction": "share of the image's edge the lesion covers at most",
    "max_colourfulness": "colourfulness (mean spread of red, green and blue) at most",
}


def _gate_section(gate: dict) -> list[str]:
    """The input gate: its limits and what it refused (``python -m ml.fit_input_gate``)."""
    if not gate:
        return ["", "## Input gate", "", "None: every input gets a result."]
    lines = ["", "## Input gate", "",
             (f"Before any class is shown, an input is refused (\"not assessable\", reason "
              f"`{gate.get('distance_reason', '')}` or a photo-quality reason) unless it is within "
              f"every limit. {_sentence(gate.get('fitted', ''))}"), "",
             "| limit | value |", "|---|---|"]
    lines += [f"| {text} | {gate[key]:.4g} |" for key, text in GATE_LIMITS.items() if gate.get(key) is not None]
    if gate.get("command"):
        lines += ["", f"Reproduce: `{gate['command']}`"]
    refusal = gate.get("refusal") or {}
    if refusal:
        lines += ["", "| images | n | refused | reasons |", "|---|---|---|---|"]
        lines += [f"| {name} | {rate['n']} | {rate['refused']:.1%} | "
                  f"{', '.join(f'{r} {c}' for r, c in sorted(rate['reasons'].items())) or '-'} |"
                  for name, rate in refusal.items()]
    return lines


def _external_section(checks: list) -> list[str]:
    """What the model did on data from elsewhere, with the command that measured it."""
    lines = ["", "## Checks on other data", ""]
    if not checks:
        return [*lines, "None run yet: the test split above is from the training sites only."]
    for check in checks:
        metrics = ", ".join(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
                            for key, value in check["metrics"].items())
        lines += [f"- {check['data']}: {metrics}. Reproduce: `{check['command']}`"]
    return lines


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def _splits(metrics: dict) -> list[str]:
    named = [s for s in SPLIT_NAMES if isinstance(metrics.get(s), dict)]
    return named + [s for s, v in metrics.items() if isinstance(v, dict) and s not in named]


def _plots_in(directory: Path) -> list[str]:
    """The plots ``save_plots`` left in ``directory``, by split then kind."""
    order = list(SPLIT_NAMES)
    found = []
    for path in directory.glob("*.png"):
        kind, _, split = path.stem.partition("_")
        if kind in PLOT_KINDS and split:
            found.append((order.index(split) if split in order else len(order), split,
                          list(PLOT_KINDS).index(kind), path.name))
    return [name for *_, name in sorted(found)]


def _input(metadata: ModelMetadata) -> str:
    if metadata.hu_window is not None:
        shape = "×".join(str(n) for n in metadata.input_size)
        if metadata.voxel_spacing:
            spacing = "×".join(f"{v:g}" for v in metadata.voxel_spacing)
            return (f"CT volume resampled to {spacing} mm voxels (z, y, x), cropped or padded "
                    f"around its centre to {shape} voxels")
        return f"CT volume resized to {shape} voxels (depth × height × width)"
    height, width = metadata.input_size[:2]
    if metadata.task in YOLO_TASKS:
        return f"RGB image, letterboxed to {max(height, width)} px on its longer side"
    return f"RGB image resized to {width}×{height} (width × height)"


def _preprocessing(metadata: ModelMetadata) -> str:
    steps = []
    if metadata.colour_constancy == "shades_of_grey":
        steps.append(f"Shades of Grey colour constancy (p = {metadata.colour_constancy_power:g}) "
                     f"on the full image")
    if metadata.task in YOLO_TASKS:
        steps.append("pixel values scaled to [0, 1] by ultralytics; output at the image's own size")
        return "; ".join(steps)
    if metadata.hu_window is not None:
        low, high = (f"{v:g}".replace("-", "−") for v in metadata.hu_window)
        steps.append(f"Hounsfield units {low} to {high} mapped to [0, 1]")
    else:
        if metadata.clahe:
            steps.append("CLAHE on the lightness channel")
        steps.append("scaled to [0, 1]")
    if any(v != 0.0 for v in metadata.mean) or any(v != 1.0 for v in metadata.std):
        mean = ", ".join(f"{v:.3f}" for v in metadata.mean)
        std = ", ".join(f"{v:.3f}" for v in metadata.std)
        steps.append(f"normalised with mean ({mean}) and std ({std})")
    if metadata.test_time_flips:
        steps.append("probabilities averaged over four flips of the image")
    return "; ".join(steps)


def _decision_rule(metadata: ModelMetadata) -> str:
    classes, thresholds = metadata.classes, metadata.thresholds
    if metadata.task == "classification" and len(classes) == 2 and classes[1] in thresholds:
        threshold = thresholds[classes[1]]
        return f"{classes[1]} when its probability ≥ {threshold:.3f}, else {classes[0]}"
    if metadata.task in YOLO_TASKS and "confidence" in thresholds:
        return f"{YOLO_TASKS[metadata.task]} found with confidence ≥ {thresholds['confidence']:.2f}"
    rules = [f"{name} {value:.3f}" for name, value in thresholds.items()]
    if metadata.task == "classification":
        prior = any(metadata.logit_bias or [])
        rules.insert(0, "the most probable class" + (" after prior correction" if prior else ""))
    return "; ".join(rules) if rules else "not stated"


def _metrics_table(metrics: dict, splits: list[str]) -> list[str]:
    rows = ["| Metric | " + " | ".join(SPLIT_NAMES.get(s, s) for s in splits) + " |",
            "|---|" + "---:|" * len(splits)]
    # Numbers only: multi-class metrics keep per-class dicts under some names, and the
    # threshold is stated in the decision rule.
    numeric = {k for s in splits for k, v in metrics[s].items()
               if isinstance(v, (int, float)) and k != "threshold"}
    names = {**METRIC_NAMES, **{k: k for k in sorted(numeric - set(METRIC_NAMES))}}
    for key, name in names.items():
        if key in numeric:
            cells = [_with_interval(metrics[s], key) for s in splits]
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def _per_class_table(metrics: dict, splits: list[str], classes: list[str]) -> list[str]:
    header, rule = "| Class |", "|---|"
    for split in splits:
        name = SPLIT_NAMES.get(split, split).lower()
        header += f" Recall, {name} | Precision, {name} | n, {name} |"
        rule += "---:|---:|---:|"
    rows = [header, rule]
    for name in classes:
        cells = [format_number(metrics[split].get(key, {}).get(name))
                 for split in splits for key in ("recall", "precision", "support")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def _matrix_table(matrix: list[list[int]], classes: list[str]) -> list[str]:
    rows = ["| True \\ predicted | " + " | ".join(classes) + " |",
            "|---|" + "---:|" * len(classes)]
    for name, row in zip(classes, matrix, strict=True):
        rows.append(f"| **{name}** | " + " | ".join(str(v) for v in row) + " |")
    return rows


def _with_interval(split_metrics: dict, key: str) -> str:
    """``0.951 (0.932–0.967)``; the interval is left out where none was computed."""
    value = split_metrics.get(key)
    value = format_number(value if isinstance(value, (int, float)) else None)
    interval = (split_metrics.get("ci95") or {}).get(key)
    if interval and value != "–":
        return f"{value} ({format_number(interval[0])}–{format_number(interval[1])})"
    return value


def _duration(seconds) -> str:
    if seconds is None:
        return "not recorded"
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if hours or minutes else [])
    return (" ".join(parts) + f" ({int(seconds)} s)") if parts else f"{int(seconds)} s"


# Command line ---------------------------------------------------------------------------

def add_intervals(metadata: ModelMetadata, split: str, probabilities: np.ndarray,
                  items: list[LabelledImage], bootstrap: int) -> tuple[bool, str]:
    """Adds 95% intervals to ``metadata.metrics[split]`` from these probabilities; returns
    whether it did and what happened. Refuses when the predictions are not the ones the
    stored metrics were computed from (another folder, or a limited training run), so the
    intervals always belong to the numbers beside them."""
    stored = metadata.metrics.get(split)
    if not isinstance(stored, dict):
        return False, f"no stored metrics for {split}: intervals not added"
    if "ci95" in stored:
        return False, f"metadata.json already has 95% intervals for {split}"
    classes = metadata.classes
    threshold = metadata.thresholds.get(classes[1], 0.5) if len(classes) == 2 else None
    fresh = evaluate_probabilities(probabilities, np.array([item.label for item in items]),
                                   classes, threshold=threshold,
                                   groups=[item.group for item in items],
                                   bootstrap_samples=bootstrap)
    if [fresh["n"], fresh["confusion_matrix"]] != [stored.get("n"), stored.get("confusion_matrix")]:
        return False, (f"these predictions differ from the stored {split} metrics (n "
                       f"{fresh['n']} vs {stored.get('n')}, or another confusion matrix): "
                       "intervals not added")
    stored["ci95"] = fresh["ci95"]
    groups = len({item.group for item in items})
    return True, (f"added 95% intervals ({bootstrap} bootstrap samples over {groups} "
                  f"patients/lesions) to metadata.json metrics[{split!r}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("data_dir", type=Path, help="labelled data (not read for the segmenter)")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test")
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--bootstrap", type=int, default=0,
                        help="bootstrap samples for 95%% intervals missing from the metadata")
    args = parser.parse_args(argv)
    directory = model_dir(args.model, args.weights_dir)
    try:
        metadata = read_installed_metadata(args.model, args.weights_dir)
        if metadata.task == "classification":
            _, items, probabilities = classifier_probabilities(
                args.model, args.data_dir, args.weights_dir, args.split,
                batch_size=args.batch_size, device=args.device)
            classes = metadata.classes
            threshold = metadata.thresholds.get(classes[1]) if len(classes) == 2 else None
            paths = save_plots(directory, probabilities, np.array([i.label for i in items]),
                               classes, threshold=threshold, split=args.split)
            print(f"wrote {', '.join(str(p) for p in paths)}")
            if args.bootstrap:
                added, message = add_intervals(metadata, args.split, probabilities, items,
                                               args.bootstrap)
                print(message)
                if added:
                    print(f"wrote {metadata.write(directory)}")
    except (ModelNotInstalled, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {write_model_card(directory, metadata)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
