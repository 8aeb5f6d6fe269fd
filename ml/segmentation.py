"""The one adapter between the project and ultralytics' YOLOv8 segmentation models.

Everything outside this module sees plain NumPy masks; only here do ultralytics' own
objects appear.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ml.devices import inference_device, ultralytics_device
from ml.metadata import ModelMetadata

# Hospital networks have no internet: ultralytics must never try to reach it.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

DEFAULT_CONFIDENCE = 0.25


def yolo(source: str | Path, task: str = "segment"):
    """An ultralytics YOLO model from our weights file or from an architecture YAML."""
    return _ultralytics_yolo()(str(source), task=task)


def _ultralytics_yolo():
    """ultralytics' YOLO class, without the process-wide side effects of importing it.

    Importing ultralytics replaces ``PIL.Image.open`` with a wrapper that tries to install a
    HEIF plugin whenever Pillow cannot identify a file; the upload checks rely on Pillow's
    own behaviour for unidentifiable files, so the original is put back.
    """
    from ultralytics import YOLO
    from ultralytics.utils import patches

    Image.open = getattr(patches, "_image_open", Image.open)
    return YOLO


class Segmenter:
    def __init__(self, model, metadata: ModelMetadata):
        self.model = model
        self.metadata = metadata

    @classmethod
    def load(cls, path: Path, metadata: ModelMetadata) -> "Segmenter":
        return cls(yolo(path), metadata)

    @property
    def image_size(self) -> int:
        return int(max(self.metadata.input_size))

    def predict_mask(self, image: Image.Image) -> np.ndarray:
        """The union of all lesion instances as a bool HxW mask at the image's own size."""
        confidence = self.metadata.thresholds.get("confidence", DEFAULT_CONFIDENCE)
        result = self.model.predict(image.convert("RGB"), imgsz=self.image_size, conf=confidence,
                                    retina_masks=True, device=ultralytics_device(inference_device()),
                                    verbose=False)[0]
        mask = np.zeros((image.height, image.width), dtype=bool)
        if result.masks is not None and len(result.masks):
            instances = result.masks.data.cpu().numpy() > 0.5
            mask |= instances.any(axis=0)[: image.height, : image.width]
        return mask
