"""Evaluate an installed model on a folder: ``python -m ml.evaluate MODEL DIR``.

The last line printed is one JSON object with the metrics. DIR is in the model's data set
layout: HAM10000 (``images/`` and ``metadata.csv``; ``masks/`` for the segmenter) or a
chest X-ray split (``NORMAL/`` and ``PNEUMONIA/``). ``--split`` restricts DIR to one of the
project's patient- or lesion-disjoint splits (useful on the development data; held-out data
is evaluated whole). ``not_assessable`` is the share of images the served input gate
refuses (0.0 for a model without one); the other metrics are of the model on every image.

``skin-melanoma`` evaluates the whole served skin pipeline (gate, classifier, urgency
advice) on dermoscopy from anywhere: DIR has ``images/`` (any size and aspect) and
``labels.csv`` (``image_id,melanoma`` with 0/1). It reports ``auc`` of the served melanoma
probability (over the photos the gate accepts), ``flag_sensitivity`` and
``flag_rate_negatives`` (the shares of melanomas and of other lesions given "see a
dermatologist soon"; a refused photo is not given it) and ``not_assessable``.

``skin-gate`` and ``xray-gate`` report what the served input gate refuses of a folder of
any images, and why (``n``, ``refused``, ``reasons``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ml.chest import analyse_radiograph
from ml.classifier import Classifier
from ml.datasets import chest_xray, ham10000, lidc
from ml.datasets.common import DatasetError, LabelledImage, open_image, read_table
from ml.input_gate import NOT_GATED, Gate
from ml.inputs import inputs_for
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelNotInstalled, load_installed, read_metadata
from ml.metrics import mask_scores, roc_auc, segmentation_metrics
from ml.skin import analyse_skin_photo
from ml.skin_urgency import SOON, skin_urgency
from ml.training.reporting import evaluate_probabilities

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".dcm"}


CLASSIFIER_READERS: dict[str, Callable[[Path, str | None], list[LabelledImage]]] = {
    "skin-classifier": ham10000.read_images,
    "pneumonia": lambda data_dir, split: chest_xray.read_images(data_dir, "pneumonia", split),
    "pneumonia-type": lambda data_dir, split: chest_xray.read_images(data_dir, "pneumonia-type",
                                                                     split),
    "nodule-malignancy": lidc.read_images,
}


def classifier_probabilities(name: str, data_dir: Path, weights_dir: Path, split: str | None, *,
                             batch_size: int, device: str
                             ) -> tuple[Classifier, list[LabelledImage], np.ndarray]:
    """An installed classifier, the labelled images of a folder and their class probabilities
    through the serving path (preprocessing, prior correction and test-time flips as
    installed)."""
    classifier = load_installed(name, weights_dir)
    items = CLASSIFIER_READERS[name](data_dir, split)
    if not items:
        raise DatasetError(f"{data_dir}: no labelled images to evaluate")
    inputs = inputs_for(classifier.metadata)
    served_on = classifier.device
    classifier.network.to(device)
    try:
        parts = []
        for start in range(0, len(items), batch_size):
            stored = inputs.load(items[start:start + batch_size])
            parts.append(classifier.predict_batch(inputs.batch(stored)))
    finally:
        classifier.network.to(served_on)
    return classifier, items, np.concatenate(parts)


def evaluate_classifier(name: str, data_dir: Path, weights_dir: Path, split: str | None, *,
                        batch_size: int, device: str, bootstrap: int = 0) -> dict:
    """Metrics of an installed classifier on a labelled folder, through the serving path
    (preprocessing, prior correction, test-time flips and decision threshold as installed)."""
    classifier, items, probabilities = classifier_probabilities(name, data_dir, weights_dir, split,
                                                                batch_size=batch_size, device=device)
    classes = classifier.classes
    threshold = classifier.metadata.thresholds.get(classes[1]) if len(classes) == 2 else None
    metrics = evaluate_probabilities(
        probabilities, np.array([item.label for item in items]), classes,
        threshold=threshold if threshold is not None else 0.5,
        groups=[item.group for item in items], bootstrap_samples=bootstrap)
    metrics["model"] = {"name": classifier.metadata.name, "version": classifier.metadata.version}
    metrics["not_assessable"] = not_assessable_share(name, [item.path for item in items], weights_dir)
    return metrics


def segmentation_items(data_dir: Path, split: str | None) -> list[tuple[Path, Path]]:
    images_dir, masks_dir = data_dir / "images", data_dir / "masks"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise DatasetError(f"{folder} is missing (expected images/ and masks/)")
    if split is not None:
        ids = [r.image_id for r in ham10000.read_records(data_dir, split)]
        images = [ham10000.image_path(data_dir, i) for i in ids]
    else:
        images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    items = []
    for image in images:
        mask = masks_dir / f"{image.stem}_segmentation.png"
        if not mask.is_file():
            raise DatasetError(f"{mask} is missing for {image.name}")
        items.append((image, mask))
    if not items:
        raise DatasetError(f"{images_dir}: no images to evaluate")
    return items


def evaluate_skin_segmenter(data_dir: Path, weights_dir: Path, split: str | None) -> dict:
    segmenter = load_installed("skin-segmenter", weights_dir)
    ious, dices = [], []
    for image_path, mask_path in segmentation_items(data_dir, split):
        with Image.open(mask_path) as mask_image:
            truth = np.asarray(mask_image.convert("L")) > 127
        with Image.open(image_path) as opened:
            image = opened.convert("RGB")
            if image.size != (truth.shape[1], truth.shape[0]):
                image = image.resize((truth.shape[1], truth.shape[0]), Image.Resampling.BILINEAR)
            predicted = segmenter.predict_mask(image)
        iou, dice = mask_scores(truth, predicted)
        ious.append(iou)
        dices.append(dice)
    metrics = segmentation_metrics(ious, dices)
    metrics["model"] = {"name": segmenter.metadata.name, "version": segmenter.metadata.version}
    metrics["not_assessable"] = 0.0  # the segmenter outlines every photo it is given
    return metrics


GATED_BY = {"skin-classifier": "skin-classifier", "pneumonia": "pneumonia",
            "pneumonia-type": "pneumonia"}  # an X-ray's pre-read is gated by pneumonia's gate


def served_gate(name: str, weights_dir: Path) -> Callable[[Image.Image], Gate]:
    """The input gate's verdict on one image through the served pipeline of ``name``."""
    if name == "skin-classifier":
        return lambda image: analyse_skin_photo(image.convert("RGB"), weights_dir=weights_dir).gate
    if GATED_BY.get(name) == "pneumonia":
        return lambda image: analyse_radiograph(image, weights_dir=weights_dir).gate
    return lambda image: NOT_GATED


def not_assessable_share(name: str, paths: list[Path], weights_dir: Path) -> float | None:
    """The share of ``paths`` the served gate refuses: 0.0 for a model without a gate, None
    when the served pipeline cannot run here (a model it needs is not installed)."""
    gated_by = GATED_BY.get(name)
    if gated_by is None:
        return 0.0
    try:
        if not read_metadata(gated_by, weights_dir).input_gate:
            return 0.0
        return refusal_rate(paths, served_gate(name, weights_dir))["refused"]
    except ModelNotInstalled:
        return None


def refusal_rate(paths: list[Path], gate: Callable[[Image.Image], Gate]) -> dict:
    """How many of ``paths`` the gate refuses (``refused``: their share) and for what."""
    reasons: dict[str, int] = {}
    refused = 0
    for path in paths:
        with open_image(path) as image:
            found = gate(image).reasons
        refused += bool(found)
        for reason in found:
            reasons[reason] = reasons.get(reason, 0) + 1
    return {"n": len(paths), "refused": round(refused / max(1, len(paths)), 4), "reasons": reasons}


def melanoma_items(data_dir: Path) -> list[tuple[Path, int]]:
    """(image, melanoma 0/1) for each row of DIR/labels.csv; the image is DIR/images/<id>.*"""
    rows = read_table(data_dir / "labels.csv", ("image_id", "melanoma"), "image_id,melanoma")
    found = {p.stem: p for p in (data_dir / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES} \
        if (data_dir / "images").is_dir() else {}
    missing = [row["image_id"] for row in rows if row["image_id"] not in found]
    if missing or not rows:
        raise DatasetError(f"{data_dir}: no images for {', '.join(missing[:5]) or 'any row'}")
    return [(found[row["image_id"]], int(row["melanoma"])) for row in rows]


def evaluate_skin_melanoma(data_dir: Path, weights_dir: Path) -> dict:
    """The served skin pipeline on melanoma-labelled dermoscopy (see the module's docstring)."""
    items = melanoma_items(data_dir)
    scores, labels, flagged, refused = [], [], [], 0
    for path, melanoma in items:
        with open_image(path) as image:
            analysis = analyse_skin_photo(image.convert("RGB"), weights_dir=weights_dir)
        if not analysis.gate.assessable:
            refused += 1
            flagged.append((melanoma, False))
            continue
        scores.append(analysis.probabilities["mel"])
        labels.append(melanoma)
        flagged.append((melanoma, skin_urgency(analysis.probabilities, analysis.soon_probability) == SOON))
    positives = [flag for truth, flag in flagged if truth]
    negatives = [flag for truth, flag in flagged if not truth]
    return {
        "n": len(items), "melanomas": len(positives),
        "auc": roc_auc(np.array(labels), np.array(scores)) if len(set(labels)) == 2 else None,
        "flag_sensitivity": round(float(np.mean(positives)), 4) if positives else None,
        "flag_rate_negatives": round(float(np.mean(negatives)), 4) if negatives else None,
        "not_assessable": round(refused / len(items), 4),
        "model": {"name": "skin-classifier", "version": analysis.models[0].version},
    }


# What a served input gate refuses of a folder of any images (every file, any size):
# ``python -m ml.evaluate xray-gate DIR``.
GATES = {"skin-gate": "skin-classifier", "xray-gate": "pneumonia"}
MODELS = sorted([*CLASSIFIER_READERS, "skin-segmenter", "skin-melanoma", *GATES])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR)
    parser.add_argument("--split", choices=["train", "val", "test"], default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--bootstrap", type=int, default=0,
                        help="bootstrap samples for 95%% intervals (resampling patients)")
    args = parser.parse_args(argv)
    try:
        if args.model == "skin-segmenter":
            metrics = evaluate_skin_segmenter(args.data_dir, args.weights_dir, args.split)
        elif args.model == "skin-melanoma":
            metrics = evaluate_skin_melanoma(args.data_dir, args.weights_dir)
        elif args.model in GATES:
            paths = sorted(p for p in args.data_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            metrics = refusal_rate(paths, served_gate(GATES[args.model], args.weights_dir))
        else:
            metrics = evaluate_classifier(args.model, args.data_dir, args.weights_dir, args.split,
                                          batch_size=args.batch_size, device=args.device,
                                          bootstrap=args.bootstrap)
    except (ModelNotInstalled, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
