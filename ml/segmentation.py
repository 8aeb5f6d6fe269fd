"""An installed YOLOv8 lesion segmenter: its model, its metadata, and how it is run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ml.devices import inference_device
from ml.metadata import ModelMetadata
from ml.preprocessing import apply_colour_constancy
from ml.ultralytics_adapter import DEFAULT_CONFIDENCE, YoloModel


class Segmenter:
    def __init__(self, model: YoloModel, metadata: ModelMetadata):
        self.model = model
        self.metadata = metadata

    @classmethod
    def load(cls, path: Path, metadata: ModelMetadata) -> Segmenter:
        return cls(YoloModel(path, "segmentation"), metadata)

    @property
    def image_size(self) -> int:
        return int(max(self.metadata.input_size))

    def predict_mask(self, image: Image.Image) -> np.ndarray:
        """The union of all lesion instances as a bool HxW mask at the image's own size."""
        confidence = self.metadata.thresholds.get("confidence", DEFAULT_CONFIDENCE)
        return self.model.predict_mask(apply_colour_constancy(image, self.metadata),
                                       image_size=self.image_size, confidence=confidence,
                                       device=inference_device())
