"""Training the YOLOv8 lung-opacity detector on RSNA radiographs (ultralytics, from YAML).

The DICOM radiographs are written once as PNG (ultralytics reads no DICOM) with their boxes
in its label format, split by patient like every other model; ultralytics trains on them and
the best checkpoint is scored on the test split with ultralytics' own box metrics (mAP).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import yaml

from ml.datasets import rsna
from ml.datasets.common import SPLITS, open_image
from ml.cards import write_model_card
from ml.metadata import ModelMetadata
from ml.segmentation import yolo
from ml.training.common import install, machine_description, seed_everything, threads, utc_now

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "results.csv", "MODEL_CARD.md"]
CLASSES = ["opacity"]


def build_yolo_dataset(data_dir: Path, cache_dir: Path, image_size: int) -> Path:
    boxes = rsna.read_boxes(data_dir)
    for split in SPLITS:
        image_dir, label_dir = cache_dir / "images" / split, cache_dir / "labels" / split
        for folder in (image_dir, label_dir):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for item in rsna.read_images(data_dir, split):
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


def train(config: dict, run_dir: Path) -> ModelMetadata:
    threads(config.get("threads"))
    seed = int(config.get("seed", 0))
    seed_everything(seed)
    started = time.time()
    image_size = int(config["imgsz"])
    data_yaml = build_yolo_dataset(Path(config["data_dir"]), run_dir / "dataset", image_size)
    model = yolo(config["architecture"], task="detect")
    model.train(
        data=str(data_yaml), epochs=int(config["epochs"]), imgsz=image_size,
        batch=int(config["batch_size"]), workers=int(config.get("workers", 2)),
        device=config.get("device", "cpu"), seed=seed, deterministic=True,
        project=str(run_dir.resolve()), name="yolo", exist_ok=True, plots=False,
        pretrained=False, amp=False, verbose=False, **config.get("yolo_options", {}),
    )
    weights = run_dir / "yolo" / "weights"
    shutil.copy2(weights / "best.pt" if (weights / "best.pt").exists() else weights / "last.pt",
                 run_dir / "model.pt")
    if (run_dir / "yolo" / "results.csv").exists():
        shutil.copy2(run_dir / "yolo" / "results.csv", run_dir / "results.csv")
    scores = yolo(run_dir / "model.pt", task="detect").val(
        data=str(data_yaml), split="test", imgsz=image_size, batch=int(config["batch_size"]),
        device=config.get("device", "cpu"), plots=False, verbose=False,
        project=str(run_dir.resolve()), name="test", exist_ok=True)
    metadata = ModelMetadata(
        name=config["name"], version=str(config["version"]), task="detection",
        architecture=config["architecture"], weights_file="model.pt", classes=CLASSES,
        input_size=[image_size, image_size],
        thresholds={"confidence": float(config.get("confidence", 0.25))},
        metrics={"test": {"map50": float(scores.box.map50), "map50_95": float(scores.box.map)},
                 "training_seconds": round(time.time() - started)},
        training_data=config.get("training_data", ""),
        split="patient-disjoint by sha256(patientId) % 100: train < 70 <= val < 85 <= test",
        intended_use=config.get("intended_use", ""), limitations=config.get("limitations", ""),
        trained_on=machine_description(), created=utc_now(),
    )
    metadata.write(run_dir)
    write_model_card(run_dir, metadata)
    install(run_dir, config.get("install_dir"), INSTALLED_FILES)
    return metadata
