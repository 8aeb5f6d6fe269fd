"""Training the YOLOv8 lesion segmenter (ultralytics, built from its YAML, one class).

HAM10000's masks are converted once into ultralytics' polygon label format (a cache folder
of symlinked images and ``.txt`` labels, split by lesion like the classifier); ultralytics
trains on it; then the best checkpoint is scored with the project's own mask metrics at each
image's full resolution, on the validation and test splits.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ml.datasets import ham10000
from ml.cards import write_model_card
from ml.metadata import ModelMetadata
from ml.metrics import bootstrap_intervals, mask_scores, segmentation_metrics
from ml.segmentation import Segmenter, yolo
from ml.training.common import install, machine_description, seed_everything, threads, utc_now

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "results.csv", "MODEL_CARD.md"]


def mask_to_polygons(mask: np.ndarray, min_area_fraction: float = 0.002) -> list[np.ndarray]:
    """Outer contours of a bool mask as polygons with coordinates normalised to [0, 1]."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    height, width = mask.shape
    polygons = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area_fraction * height * width or len(contour) < 3:
            continue
        points = contour.reshape(-1, 2).astype(np.float64) / [width, height]
        polygons.append(points.clip(0, 1))
    return polygons


def build_yolo_dataset(data_dir: Path, cache_dir: Path, splits: dict[str, list]) -> Path:
    """Symlinked images and polygon labels in ultralytics' layout; returns the data YAML."""
    data_dir, cache_dir = Path(data_dir).resolve(), Path(cache_dir)
    for split, records in splits.items():
        image_dir, label_dir = cache_dir / "images" / split, cache_dir / "labels" / split
        shutil.rmtree(image_dir, ignore_errors=True)
        shutil.rmtree(label_dir, ignore_errors=True)
        image_dir.mkdir(parents=True)
        label_dir.mkdir(parents=True)
        for record in records:
            (image_dir / f"{record.image_id}.jpg").symlink_to(
                ham10000.image_path(data_dir, record.image_id))
            lines = ["0 " + " ".join(f"{v:.5f}" for v in polygon.ravel())
                     for polygon in mask_to_polygons(ham10000.load_mask(data_dir, record.image_id))]
            (label_dir / f"{record.image_id}.txt").write_text("\n".join(lines))
    data_yaml = cache_dir / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({
        "path": str(cache_dir.resolve()), "train": "images/train", "val": "images/val",
        "names": {0: "lesion"},
    }))
    return data_yaml


def evaluate_segmenter(segmenter: Segmenter, data_dir: Path, records,
                       bootstrap_samples: int = 0) -> dict:
    """Mask metrics at each image's own resolution; with ``bootstrap_samples``, 95% intervals
    that resample whole lesions."""
    ious, dices = [], []
    for record in records:
        truth = ham10000.load_mask(data_dir, record.image_id)
        with Image.open(ham10000.image_path(data_dir, record.image_id)) as image:
            predicted = segmenter.predict_mask(image.convert("RGB"))
        if predicted.shape != truth.shape:
            predicted = np.asarray(Image.fromarray(predicted).resize(truth.shape[::-1]))
        iou, dice = mask_scores(truth, predicted)
        ious.append(iou)
        dices.append(dice)
    metrics = segmentation_metrics(ious, dices)
    if bootstrap_samples:
        scores = np.stack([ious, dices], axis=1)
        metrics["ci95"] = bootstrap_intervals(
            lambda _, chosen: segmentation_metrics(list(chosen[:, 0]), list(chosen[:, 1])),
            np.zeros(len(records)), scores, groups=[r.lesion_id for r in records],
            samples=bootstrap_samples)
    return metrics


def train(config: dict, run_dir: Path) -> ModelMetadata:
    threads(config.get("threads"))
    seed = int(config.get("seed", 0))
    seed_everything(seed)
    data_dir = Path(config["data_dir"])
    splits = {s: ham10000.read_records(data_dir, s) for s in ("train", "val", "test")}
    limit = config.get("max_images_per_split")
    if limit:
        splits = {s: records[: int(limit)] for s, records in splits.items()}
    started = time.time()
    data_yaml = build_yolo_dataset(data_dir, run_dir / "dataset", splits)
    print(f"dataset ready in {time.time() - started:.1f}s", flush=True)

    model = yolo(config["architecture"])
    model.train(
        data=str(data_yaml), epochs=int(config["epochs"]), imgsz=int(config["imgsz"]),
        batch=int(config["batch_size"]), workers=int(config.get("workers", 2)),
        device=config.get("device", "cpu"), seed=seed, deterministic=True,
        project=str(run_dir.resolve()), name="yolo", exist_ok=True, plots=False,
        pretrained=False, amp=False, patience=int(config.get("patience", 100)),
        close_mosaic=int(config.get("close_mosaic", 10)), verbose=False,
        **config.get("yolo_options", {}),
    )
    best = run_dir / "yolo" / "weights" / "last.pt"
    shutil.copy2(best, run_dir / "model.pt")
    if (run_dir / "yolo" / "results.csv").exists():
        shutil.copy2(run_dir / "yolo" / "results.csv", run_dir / "results.csv")
    training_seconds = round(time.time() - started)

    metadata = ModelMetadata(
        name=config["name"], version=str(config["version"]), task="segmentation",
        architecture=config["architecture"], weights_file="model.pt", classes=["lesion"],
        input_size=[int(config["imgsz"]), int(config["imgsz"])],
        thresholds={"confidence": float(config.get("confidence", 0.25))},
    )
    segmenter = Segmenter.load(run_dir / "model.pt", metadata)
    metrics = {s: evaluate_segmenter(segmenter, data_dir, splits[s],
                                     int(config.get("bootstrap_samples", 1000)))
               for s in ("val", "test")}
    for split, values in metrics.items():
        print(f"{split}: " + " ".join(f"{k}={v:.4f}" for k, v in values.items()
                                      if isinstance(v, float)), flush=True)
    metadata.metrics = {**metrics, "training_seconds": training_seconds}
    metadata.training_data = config.get("training_data", "")
    metadata.split = ("lesion-disjoint by sha256(lesion_id) % 100: train < 70 <= val < 85 <= "
                      "test; the last epoch is kept (no per-epoch selection), test used once")
    metadata.intended_use = config.get("intended_use", "")
    metadata.limitations = config.get("limitations", "")
    metadata.trained_on = machine_description()
    metadata.created = utc_now()
    metadata.write(run_dir)
    write_model_card(run_dir, metadata)
    install(run_dir, config.get("install_dir"), INSTALLED_FILES)
    return metadata
