"""Training the YOLOv8 lung-opacity detector on RSNA radiographs (ultralytics, from YAML).

The DICOM radiographs are written once as PNG (ultralytics reads no DICOM) with their boxes
in its label format, split by patient like every other model; ultralytics trains on them and
the best checkpoint is scored on the test split with ultralytics' own box metrics (mAP).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ml.cards import write_model_card
from ml.datasets import rsna
from ml.datasets.common import SPLITS, open_image
from ml.metadata import ModelMetadata
from ml.timing import Stopwatch
from ml.training.common import install, machine_description, seed_everything, threads, utc_now
from ml.training.config import YoloConfig
from ml.ultralytics_adapter import YoloModel, YoloTraining

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "results.csv", "MODEL_CARD.md"]
CLASSES = ["opacity"]


def build_yolo_dataset(data_dir: Path, cache_dir: Path, image_size: int,
                       limit: int | None = None) -> Path:
    """The radiographs of each split as PNG, ``image_size`` on the longer side, with their
    boxes in ultralytics' label format (at most ``limit`` per split); returns the data YAML."""
    boxes = rsna.read_boxes(data_dir)
    for split in SPLITS:
        image_dir, label_dir = cache_dir / "images" / split, cache_dir / "labels" / split
        for folder in (image_dir, label_dir):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for item in rsna.read_images(data_dir, split)[:limit]:
            image = open_image(item.path)
            width, height = image.size
            scale = image_size / max(width, height)
            image.resize((round(width * scale), round(height * scale))).save(
                image_dir / f"{item.group}.png")
            lines = [f"0 {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} "
                     f"{w / width:.6f} {h / height:.6f}" for x, y, w, h in boxes.get(item.group, [])]
            (label_dir / f"{item.group}.txt").write_text("\n".join(lines))
    data_yaml = cache_dir / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({
        "path": str(cache_dir.resolve()), "train": "images/train", "val": "images/val",
        "test": "images/test", "names": dict(enumerate(CLASSES)),
    }))
    return data_yaml


def train(config: YoloConfig, run_dir: Path) -> ModelMetadata:
    threads(config.threads)
    seed_everything(config.seed)
    watch = Stopwatch()
    data_yaml = build_yolo_dataset(Path(config.data_dir), run_dir / "dataset", config.imgsz,
                                   config.max_images_per_split)
    training = YoloTraining(
        epochs=config.epochs, image_size=config.imgsz, batch_size=config.batch_size,
        workers=config.workers, device=config.device, seed=config.seed, patience=config.patience,
        close_mosaic=config.close_mosaic, options=config.yolo_options)
    yolo_run = YoloModel(config.architecture, "detection").train(
        training, data_yaml=data_yaml, run_dir=run_dir)
    weights = yolo_run / "weights"
    shutil.copy2(weights / "best.pt" if (weights / "best.pt").exists() else weights / "last.pt",
                 run_dir / "model.pt")
    if (yolo_run / "results.csv").exists():
        shutil.copy2(yolo_run / "results.csv", run_dir / "results.csv")
    scores = YoloModel(run_dir / "model.pt", "detection").box_map(
        data_yaml=data_yaml, split="test", image_size=config.imgsz, batch_size=config.batch_size,
        device=config.device, run_dir=run_dir)
    metadata = ModelMetadata(
        name=config.name, version=config.version, task="detection",
        architecture=config.architecture, weights_file="model.pt", classes=CLASSES,
        input_size=[config.imgsz, config.imgsz], thresholds={"confidence": config.confidence},
        metrics={"test": scores, "training_seconds": round(watch.seconds)},
        training_data=config.training_data,
        split="patient-disjoint by sha256(patientId) % 100: train < 70 <= val < 85 <= test",
        intended_use=config.intended_use, limitations=config.limitations,
        trained_on=machine_description(), created=utc_now(),
    )
    metadata.write(run_dir)
    write_model_card(run_dir, metadata)
    install(run_dir, config.install_dir, INSTALLED_FILES)
    return metadata
