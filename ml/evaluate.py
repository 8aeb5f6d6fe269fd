"""Evaluate an installed model on a folder: ``python -m ml.evaluate MODEL DIR``.

The last line printed is one JSON object with the metrics. ``--split`` restricts a HAM10000
folder to one of the project's lesion-disjoint splits (useful on the development data; the
held-out data is evaluated whole).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ml.datasets import ham10000
from ml.metrics import classification_metrics, mask_scores, segmentation_metrics
from ml.preprocessing import normalise
from ml.registry import ModelNotInstalled, load_installed
from ml.skin import DEFAULT_WEIGHTS_DIR

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def evaluate_skin_classifier(data_dir: Path, weights_dir: Path, split: str | None,
                             batch_size: int, device: str) -> dict:
    classifier = load_installed("skin-classifier", weights_dir)
    records = ham10000.read_records(data_dir, split)
    if not records:
        raise ham10000.DatasetError(f"{data_dir}: no labelled images to evaluate")
    classifier.network.to(device)
    predictions = []
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        images = ham10000.load_images(data_dir, chunk, classifier.metadata.input_size)
        inputs = normalise(torch.from_numpy(images), classifier.metadata).to(device)
        predictions.append(classifier.predict_batch(inputs).argmax(1))
    classifier.network.to("cpu")
    labels = np.array([r.label for r in records])
    metrics = classification_metrics(labels, np.concatenate(predictions), classifier.classes)
    metrics["model"] = {"name": classifier.metadata.name, "version": classifier.metadata.version}
    return metrics


def segmentation_items(data_dir: Path, split: str | None) -> list[tuple[Path, Path]]:
    images_dir, masks_dir = data_dir / "images", data_dir / "masks"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise ham10000.DatasetError(f"{folder} is missing (expected images/ and masks/)")
    if split is not None:
        ids = [r.image_id for r in ham10000.read_records(data_dir, split)]
        images = [ham10000.image_path(data_dir, i) for i in ids]
    else:
        images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    items = []
    for image in images:
        mask = masks_dir / f"{image.stem}_segmentation.png"
        if not mask.is_file():
            raise ham10000.DatasetError(f"{mask} is missing for {image.name}")
        items.append((image, mask))
    if not items:
        raise ham10000.DatasetError(f"{images_dir}: no images to evaluate")
    return items


def evaluate_skin_segmenter(data_dir: Path, weights_dir: Path, split: str | None,
                            batch_size: int, device: str) -> dict:
    segmenter = load_installed("skin-segmenter", weights_dir)
    ious, dices = [], []
    for image_path, mask_path in segmentation_items(data_dir, split):
        with Image.open(mask_path) as mask_image:
            truth = np.asarray(mask_image.convert("L")) > 127
        with Image.open(image_path) as image:
            image = image.convert("RGB")
            if image.size != (truth.shape[1], truth.shape[0]):
                image = image.resize((truth.shape[1], truth.shape[0]), Image.Resampling.BILINEAR)
            predicted = segmenter.predict_mask(image)
        iou, dice = mask_scores(truth, predicted)
        ious.append(iou)
        dices.append(dice)
    metrics = segmentation_metrics(ious, dices)
    metrics["model"] = {"name": segmenter.metadata.name, "version": segmenter.metadata.version}
    return metrics


EVALUATORS = {
    "skin-classifier": evaluate_skin_classifier,
    "skin-segmenter": evaluate_skin_segmenter,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(EVALUATORS))
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR)
    parser.add_argument("--split", choices=["train", "val", "test"], default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        metrics = EVALUATORS[args.model](args.data_dir, args.weights_dir, args.split,
                                         args.batch_size, args.device)
    except (ModelNotInstalled, ham10000.DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
