"""Throwaway weights for the test suite: real files in the real format, never trained.

They let tests run the whole pipeline (loading, inference, Grad-CAM, drawing) without the
shipped models. Their metadata says so, and nothing but tests may point at them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ml.datasets.ham10000 import CLASSES
from ml.metadata import ModelMetadata
from ml.registry import clear_cache, create_model, model_dir
from ml.skin import SKIN_CLASSIFIER, SKIN_SEGMENTER

TEST_VERSION = "0.0.0-test"
TEST_USE = "Automated tests only: untrained random weights."


def write_test_classifier(weights_dir: Path, name: str = SKIN_CLASSIFIER) -> ModelMetadata:
    torch.manual_seed(0)
    directory = model_dir(name, weights_dir)
    directory.mkdir(parents=True, exist_ok=True)
    network = create_model("compact-resnet-tiny", num_classes=len(CLASSES))
    torch.save(network.state_dict(), directory / "model.pt")
    metadata = ModelMetadata(
        name=name, version=TEST_VERSION, task="classification",
        architecture="compact-resnet-tiny", weights_file="model.pt", classes=list(CLASSES),
        input_size=[48, 64], mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25],
        gradcam_target_layer="stages.1", intended_use=TEST_USE,
    )
    metadata.write(directory)
    return metadata


def write_test_segmenter(weights_dir: Path, name: str = SKIN_SEGMENTER) -> ModelMetadata:
    from ml.segmentation import yolo

    torch.manual_seed(0)
    directory = model_dir(name, weights_dir)
    directory.mkdir(parents=True, exist_ok=True)
    yolo("yolov8n-seg.yaml").save(directory / "model.pt")
    metadata = ModelMetadata(
        name=name, version=TEST_VERSION, task="segmentation", architecture="yolov8n-seg.yaml",
        weights_file="model.pt", classes=["lesion"], input_size=[64, 64],
        thresholds={"confidence": 0.01}, intended_use=TEST_USE,
    )
    metadata.write(directory)
    return metadata


def write_test_weights(weights_dir: Path) -> None:
    """Both skin models, untrained, under ``weights_dir``."""
    write_test_classifier(weights_dir)
    write_test_segmenter(weights_dir)
    clear_cache()
