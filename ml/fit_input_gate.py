"""Fit an installed classifier's input gate (ml.input_gate) and measure what it refuses.

    python -m ml.fit_input_gate skin-classifier [--data DIR] [--negatives DIR ...]
    python -m ml.fit_input_gate pneumonia [--data DIR] [--negatives DIR ...]

The feature density is fitted on the training split; every limit is chosen on the
validation split alone (``--keep-distance`` of it passes the distance, ``--keep`` each photo
limit), so the negatives never tune
the gate: they only measure it. The refusal rates of the validation and test splits and of
each negatives folder (every image file in it, any size) are then measured through the
served pipeline and stored with the limits in the model's metadata (``input_gate``); the
class means and precision go to ``input_gate.npz`` beside the weights. The last line
printed is one JSON object with the rates.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ml.cards import write_model_card
from ml.classifier import Classifier
from ml.datasets import labelled_splits
from ml.datasets.common import LabelledImage, load_images, open_image
from ml.evaluate import IMAGE_SUFFIXES, refusal_rate, served_gate
from ml.input_gate import (
    GATE_FILE,
    FeatureDensity,
    colour_measures,
    lesion_measures,
    photo_measures,
    pooled_features,
)
from ml.installed import DEFAULT_WEIGHTS_DIR, clear_cache, load_installed, model_dir
from ml.preprocessing import normalise
from ml.segmentation import Segmenter
from ml.skin import SKIN_SEGMENTER

# Whatever the validation split says, a photo in which the segmenter finds no lesion at all
# (under 0.1% of the image) is refused: there is nothing to outline, and plain skin would
# otherwise get a class.
MIN_LESION_FRACTION = 0.001
# Films are grey; this much colour spread (in [0, 1]) is still let through whatever the
# validation split says, for JPEG tints and scanner casts.
MAX_FILM_COLOURFULNESS = 0.02


@dataclass(frozen=True)
class GatedModel:
    """How a model's gate is fitted: its data set and what its refusal is called."""

    dataset: str
    label_task: str
    default_data: str
    distance_reason: str
    photo: bool  # photo quality and lesion measures too (skin), or the distance alone


GATED_MODELS = {
    "skin-classifier": GatedModel("ham10000", "", "../shared/data/ham10000", "not_a_lesion", photo=True),
    "pneumonia": GatedModel("chest_xray", "pneumonia", "../shared/data/chest_xray/train",
                            "not_a_chest_radiograph", photo=False),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(GATED_MODELS))
    parser.add_argument("--data", type=Path, help="the model's data set (default: ../shared/data/...)")
    parser.add_argument("--negatives", type=Path, nargs="*", default=[],
                        help="folders of images the gate must refuse (measured, never fitted on)")
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR)
    parser.add_argument("--keep", type=float, default=0.997,
                        help="share of validation photos each photo-quality and lesion limit lets through")
    parser.add_argument("--keep-distance", type=float, default=0.99,
                        help="share of validation images the feature-distance limit lets through")
    parser.add_argument("--batch-size", type=int, default=64)
    return parser.parse_args(argv)


def batched_features(classifier: Classifier, items: list[LabelledImage], batch_size: int) -> np.ndarray:
    """Pooled features at the Grad-CAM layer, the images prepared exactly as served."""
    rows = []
    for start in range(0, len(items), batch_size):
        images = load_images([item.path for item in items[start:start + batch_size]], classifier.metadata)
        inputs = normalise(torch.from_numpy(images), classifier.metadata).to(classifier.device)
        rows.append(pooled_features(classifier.network, classifier.target_layer(), inputs))
    return np.concatenate(rows)


def photo_limits(items: list[LabelledImage], classifier: Classifier, segmenter: Segmenter,
                 keep: float) -> dict[str, float]:
    """Limits of the photo measures that let ``keep`` of the validation photos through each."""
    rows = []
    for item in items:
        with open_image(item.path) as image:
            photo = image.convert("RGB")
        rows.append({**photo_measures(photo, classifier.metadata.input_size),
                     **lesion_measures(segmenter.predict_mask(photo))})
    column = {name: np.array([row[name] for row in rows]) for name in rows[0]}
    tail = 1.0 - keep
    return {
        "min_sharpness": float(np.quantile(column["sharpness"], tail)),
        "min_brightness": float(np.quantile(column["brightness"], tail)),
        "max_brightness": float(np.quantile(column["brightness"], keep)),
        "min_lesion_fraction": max(MIN_LESION_FRACTION, float(np.quantile(column["lesion_fraction"], tail))),
        "max_border_fraction": float(np.quantile(column["border_fraction"], keep)),
    }


def film_limits(items: list[LabelledImage], keep: float) -> dict[str, float]:
    """The colourfulness that lets ``keep`` of the validation films through (with a floor:
    a film is grey, but JPEG compression tints a little)."""
    values = []
    for item in items:
        with open_image(item.path) as image:
            values.append(colour_measures(image)["colourfulness"])
    return {"max_colourfulness": max(MAX_FILM_COLOURFULNESS, float(np.quantile(values, keep)))}


def fit(args: argparse.Namespace, spec: GatedModel) -> dict:
    """Fit the density on train and the limits on val; write them beside the weights."""
    classifier = load_installed(args.model, args.weights_dir)
    if not isinstance(classifier, Classifier):
        raise SystemExit(f"{args.model} is not a classifier")
    _classes, splits = labelled_splits(spec.dataset, args.data, spec.label_task or "pneumonia")
    train = batched_features(classifier, splits["train"], args.batch_size)
    density = FeatureDensity.fit(train, np.array([item.label for item in splits["train"]]))
    val_distances = density.distance(batched_features(classifier, splits["val"], args.batch_size))
    limits: dict = {"file": GATE_FILE, "distance_reason": spec.distance_reason,
                    "max_distance": float(np.quantile(val_distances, args.keep_distance))}
    if spec.photo:
        segmenter = load_installed(SKIN_SEGMENTER, args.weights_dir)
        if not isinstance(segmenter, Segmenter):
            raise SystemExit(f"{SKIN_SEGMENTER} is not a segmenter")
        limits.update(photo_limits(splits["val"], classifier, segmenter, args.keep))
    else:
        limits.update(film_limits(splits["val"], args.keep))
    limits["command"] = " ".join(["python -m ml.fit_input_gate", args.model, "--data", str(args.data),
                                  *(["--negatives", *map(str, args.negatives)] if args.negatives else [])])
    limits["fitted"] = (f"feature density on the train split ({len(train)} images); the distance limit lets "
                        f"{args.keep_distance:.1%} of the validation split through, each other limit "
                        f"{args.keep:.1%}")
    directory = model_dir(args.model, args.weights_dir)
    density.save(directory / GATE_FILE)
    write_gate(directory, classifier, limits)
    return splits


def write_gate(directory: Path, classifier: Classifier, limits: dict) -> None:
    metadata = classifier.metadata
    metadata.input_gate = limits
    metadata.write(directory)
    write_model_card(directory, metadata)
    clear_cache()


def negatives_name(folder: Path) -> str:
    """A negatives folder's name in the card: ``ham10000_600/images`` rather than ``images``."""
    return f"{folder.parent.name}/{folder.name}" if folder.name in ("images", "NORMAL", "PNEUMONIA") else folder.name


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    spec = GATED_MODELS[args.model]
    args.data = args.data or Path(spec.default_data)
    splits = fit(args, spec)
    refusal = served_gate(args.model, args.weights_dir)
    rates = {split: refusal_rate([item.path for item in splits[split]], refusal) for split in ("val", "test")}
    for folder in args.negatives:
        rates[negatives_name(Path(folder))] = refusal_rate(image_files(folder), refusal)
    classifier = load_installed(args.model, args.weights_dir)
    write_gate(model_dir(args.model, args.weights_dir), classifier, {**classifier.metadata.input_gate,
                                                                       "refusal": rates})
    for name, rate in rates.items():
        print(f"{name}: {rate['refused']:.1%} of {rate['n']} refused {rate['reasons']}", flush=True)
    print(json.dumps(rates))
    return rates


if __name__ == "__main__":
    main()
