"""The adapter between the project and ultralytics' YOLOv8 detectors (lung-opacity boxes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ml.devices import inference_device, ultralytics_device
from ml.metadata import ModelMetadata
from ml.segmentation import DEFAULT_CONFIDENCE, yolo


@dataclass(frozen=True)
class Box:
    x: float  # left, pixels of the image given
    y: float  # top
    width: float
    height: float
    score: float
    label: str


class Detector:
    def __init__(self, model, metadata: ModelMetadata):
        self.model = model
        self.metadata = metadata

    @classmethod
    def load(cls, path: Path, metadata: ModelMetadata) -> "Detector":
        return cls(yolo(path, task="detect"), metadata)

    def predict_boxes(self, image: Image.Image) -> list[Box]:
        confidence = self.metadata.thresholds.get("confidence", DEFAULT_CONFIDENCE)
        result = self.model.predict(image.convert("RGB"), imgsz=int(max(self.metadata.input_size)),
                                    conf=confidence, device=ultralytics_device(inference_device()),
                                    verbose=False)[0]
        boxes = []
        for (x1, y1, x2, y2), score, label in zip(result.boxes.xyxy.tolist(),
                                                  result.boxes.conf.tolist(),
                                                  result.boxes.cls.tolist()):
            boxes.append(Box(x1, y1, x2 - x1, y2 - y1, float(score),
                             self.metadata.classes[int(label)]))
        return boxes
