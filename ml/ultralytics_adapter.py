"""The one adapter between the project and ultralytics (YOLOv8 segmentation and detection).

Nothing else in the project touches ultralytics or its result objects: this module builds,
runs, trains and scores YOLO models, and hands back the project's own types (``Box`` lists,
NumPy masks, metric dicts, a torch network). Tasks are named as in model metadata
("segmentation", "detection").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ml.devices import ultralytics_device

# Hospital networks have no internet: ultralytics must never try to reach it.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

DEFAULT_CONFIDENCE = 0.25
ULTRALYTICS_TASKS = {"segmentation": "segment", "detection": "detect"}
RUN_FOLDER = "yolo"  # ultralytics' own outputs, under the run folder


@dataclass(frozen=True)
class Box:
    x: float  # left, pixels of the image given
    y: float  # top
    width: float
    height: float
    score: float
    label: str


@dataclass(frozen=True)
class YoloTraining:
    """How ultralytics trains a model, in the project's names; ``options`` go to ultralytics
    as they are."""

    epochs: int
    image_size: int
    batch_size: int
    workers: int
    device: str
    seed: int
    patience: int
    close_mosaic: int
    options: dict[str, Any] = field(default_factory=dict)


class YoloModel:
    """A YOLOv8 model from a weights file or, untrained, from an architecture YAML
    (``yolov8n-seg.yaml``); ``num_classes`` rebuilds the latter with that many classes (the
    YAMLs have COCO's 80)."""

    def __init__(self, source: str | Path, task: str, *, num_classes: int | None = None):
        self._yolo = _ultralytics_yolo()(str(source), task=ULTRALYTICS_TASKS[task])
        if num_classes is not None:
            self._yolo.model = type(self._yolo.model)(str(source), nc=num_classes, verbose=False)

    @property
    def network(self) -> torch.nn.Module:
        """The underlying torch network (for timing its forward pass alone)."""
        return self._yolo.model

    def save(self, path: Path) -> None:
        self._yolo.save(path)

    def predict_mask(self, image: Image.Image, *, image_size: int, confidence: float,
                     device: torch.device) -> np.ndarray:
        """The union of all instances as a bool HxW mask at the image's own size."""
        result = self._yolo.predict(image.convert("RGB"), imgsz=image_size, conf=confidence,
                                    retina_masks=True, device=ultralytics_device(device),
                                    verbose=False)[0]
        mask = np.zeros((image.height, image.width), dtype=bool)
        if result.masks is not None and len(result.masks):
            instances = result.masks.data.cpu().numpy() > 0.5
            mask |= instances.any(axis=0)[: image.height, : image.width]
        return mask

    def predict_boxes(self, image: Image.Image, *, image_size: int, confidence: float,
                      labels: list[str], device: torch.device) -> list[Box]:
        """Boxes in the pixels of ``image``; ``labels`` names the model's class indices."""
        result = self._yolo.predict(image.convert("RGB"), imgsz=image_size, conf=confidence,
                                    device=ultralytics_device(device), verbose=False)[0]
        return [Box(x1, y1, x2 - x1, y2 - y1, float(score), labels[int(label)])
                for (x1, y1, x2, y2), score, label in zip(result.boxes.xyxy.tolist(),
                                                          result.boxes.conf.tolist(),
                                                          result.boxes.cls.tolist(), strict=True)]

    def train(self, training: YoloTraining, *, data_yaml: Path, run_dir: Path) -> Path:
        """Train from scratch on a data YAML in ultralytics' layout; returns ultralytics'
        run folder (``weights/best.pt``, ``weights/last.pt``, ``results.csv``)."""
        self._yolo.train(
            data=str(data_yaml), epochs=training.epochs, imgsz=training.image_size,
            batch=training.batch_size, workers=training.workers, device=training.device,
            seed=training.seed, deterministic=True,
            project=str(run_dir.resolve()), name=RUN_FOLDER, exist_ok=True, plots=False,
            pretrained=False, amp=False, patience=training.patience,
            close_mosaic=training.close_mosaic, verbose=False, **training.options,
        )
        return run_dir / RUN_FOLDER

    def box_map(self, *, data_yaml: Path, split: str, image_size: int, batch_size: int,
                device: str, run_dir: Path) -> dict[str, float]:
        """ultralytics' box mAP at IoU 0.5 and averaged over 0.5 to 0.95 on one split."""
        scores = self._yolo.val(data=str(data_yaml), split=split, imgsz=image_size,
                                batch=batch_size, device=device, plots=False, verbose=False,
                                project=str(run_dir.resolve()), name=split, exist_ok=True)
        return {"map50": float(scores.box.map50), "map50_95": float(scores.box.map)}


def _ultralytics_yolo() -> type:
    """ultralytics' YOLO class, without the process-wide side effects of importing it.

    Importing ultralytics replaces ``PIL.Image.open`` with a wrapper that tries to install a
    HEIF plugin whenever Pillow cannot identify a file; the upload checks rely on Pillow's
    own behaviour for unidentifiable files, so the original is put back.
    """
    from ultralytics import YOLO  # noqa: PLC0415  a process that runs no YOLO model never loads ultralytics
    from ultralytics.utils import patches  # noqa: PLC0415  (as above)

    Image.open = getattr(patches, "_image_open", Image.open)
    return YOLO
