"""Training the YOLOv8 lesion segmenter (ultralytics, built from its YAML, one class).

HAM10000's masks are converted once into ultralytics' polygon label format (a cache folder
of symlinked images and ``.txt`` labels, split by lesion like the classifier); ultralytics
trains on it; then the best checkpoint is scored with the project's own mask metrics at each
image's full resolution, on the validation and test splits.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image

from ml.cards import write_model_card
from ml.datasets import ham10000
from ml.metadata import ModelMetadata
from ml.metrics import bootstrap_intervals, mask_scores, segmentation_metrics
from ml.segmentation import Segmenter
from ml.timing import Stopwatch
from ml.training.common import install, machine_description, seed_everything, threads, utc_now
from ml.training.config import YoloConfig
from ml.ultralytics_adapter import YoloModel, YoloTraining

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "results.csv", "MODEL_CARD.md"]


def mask_to_polygons(mask: np.ndarray, min_area_fraction: float = 0.002) -> list[np.ndarray]:
    """Outer contours of a bool mask as polygons with coordinates normalised to [0, 1]."""
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


def build_yolo_dataset(data_dir: Path, cache_dir: Path,
                       splits: dict[str, list[ham10000.Record]]) -> Path:
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


def evaluate_segmenter(segmenter: Segmenter, data_dir: Path, records: list[ham10000.Record],
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


def train(config: YoloConfig, run_dir: Path) -> ModelMetadata:
    threads(config.threads)
    seed_everything(config.seed)
    data_dir = Path(config.data_dir)
    splits = {s: ham10000.read_records(data_dir, s) for s in ("train", "val", "test")}
    if config.max_images_per_split:
        splits = {s: records[: config.max_images_per_split] for s, records in splits.items()}
    watch = Stopwatch()
    data_yaml = build_yolo_dataset(data_dir, run_dir / "dataset", splits)
    print(f"dataset ready in {watch.seconds:.1f}s", flush=True)

    training = YoloTraining(
        epochs=config.epochs, image_size=config.imgsz, batch_size=config.batch_size,
        workers=config.workers, device=config.device, seed=config.seed, patience=config.patience,
        close_mosaic=config.close_mosaic, options=config.yolo_options)
    yolo_run = YoloModel(config.architecture, "segmentation").train(
        training, data_yaml=data_yaml, run_dir=run_dir)
    shutil.copy2(yolo_run / "weights" / "last.pt", run_dir / "model.pt")
    if (yolo_run / "results.csv").exists():
        shutil.copy2(yolo_run / "results.csv", run_dir / "results.csv")
    training_seconds = round(watch.seconds)

    metadata = ModelMetadata(
        name=config.name, version=config.version, task="segmentation",
        architecture=config.architecture, weights_file="model.pt", classes=["lesion"],
        input_size=[config.imgsz, config.imgsz], thresholds={"confidence": config.confidence},
    )
    segmenter = Segmenter.load(run_dir / "model.pt", metadata)
    metrics = {s: evaluate_segmenter(segmenter, data_dir, splits[s], config.bootstrap_samples)
               for s in ("val", "test")}
    for split, values in metrics.items():
        print(f"{split}: " + " ".join(f"{k}={v:.4f}" for k, v in values.items()
                                      if isinstance(v, float)), flush=True)
    metadata.metrics = {**metrics, "training_seconds": training_seconds}
    metadata.training_data = config.training_data
    metadata.split = ("lesion-disjoint by sha256(lesion_id) % 100: train < 70 <= val < 85 <= "
                      "test; the last epoch is kept (no per-epoch selection), test used once")
    metadata.intended_use = config.intended_use
    metadata.limitations = config.limitations
    metadata.trained_on = machine_description()
    metadata.created = utc_now()
    metadata.write(run_dir)
    write_model_card(run_dir, metadata)
    install(run_dir, config.install_dir, INSTALLED_FILES)
    return metadata
