"""An installed YOLOv8 detector (lung-opacity boxes): its model, its metadata, and how it
is run."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ml.devices import inference_device
from ml.metadata import ModelMetadata
from ml.preprocessing import apply_colour_constancy
from ml.ultralytics_adapter import DEFAULT_CONFIDENCE, Box, YoloModel


class Detector:
    def __init__(self, model: YoloModel, metadata: ModelMetadata):
        self.model = model
        self.metadata = metadata

    @classmethod
    def load(cls, path: Path, metadata: ModelMetadata) -> Detector:
        return cls(YoloModel(path, "detection"), metadata)

    def predict_boxes(self, image: Image.Image) -> list[Box]:
        confidence = self.metadata.thresholds.get("confidence", DEFAULT_CONFIDENCE)
        return self.model.predict_boxes(apply_colour_constancy(image, self.metadata),
                                        image_size=int(max(self.metadata.input_size)),
                                        confidence=confidence, labels=self.metadata.classes,
                                        device=inference_device())
