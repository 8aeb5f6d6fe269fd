"""An installed classifier served by ONNX Runtime from its exported ``model.onnx``.

``OnnxClassifier`` answers like ``ml.classifier.Classifier`` (same preprocessing, prior
correction and test-time flips, all read from the same metadata), so a caller can switch
between the two without changing anything else. The network itself comes from the ONNX file
written by ``python -m ml.onnx_export``; Grad-CAM still needs the PyTorch classifier.

An export remembers which weights it was made from. When those weights are installed beside it
and have changed since (a retrained model), the export is refused rather than served: the
diagnosis must come from the installed weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from PIL import Image

from ml.installed import ModelNotInstalled, model_dir, read_metadata
from ml.metadata import ModelMetadata
from ml.preprocessing import image_to_input

ONNX_FILE = "model.onnx"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
SOURCE_KEY = "source_fingerprint"  # in the ONNX file's metadata_props


class OutdatedExport(ModelNotInstalled):
    """``model.onnx`` was exported from other weights (or input size) than those installed."""

    def __init__(self, name: str, path: Path):
        super().__init__(name, path.parent)
        self.args = ((f"{path} was exported from other weights than the installed ones; "
                      f"export again with: python -m ml.onnx_export {name}"),)


def source_fingerprint(metadata: ModelMetadata, weights_path: Path) -> str:
    """What an export depends on: the weights' bytes and the graph's fixed input shape.

    The prior correction, flips and thresholds are applied at serving time from the metadata,
    so changing them does not make an export outdated."""
    digest = hashlib.sha256()
    digest.update(json.dumps([metadata.architecture, metadata.input_size]).encode())
    with open(weights_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_session(path: Path) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the CPU, with as many threads as ONNX Runtime chooses (one
    per core). Its threads do not spin-wait after a run: in a worker, PyTorch models run next
    (segmentation, Grad-CAM), and spinning threads took the cores from them (a PyTorch forward
    pass of 32 photos ran three times slower right after an ONNX Runtime one on two cores)."""
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class OnnxClassifier:
    def __init__(self, session: onnxruntime.InferenceSession, metadata: ModelMetadata):
        self.session = session
        self.metadata = metadata
        bias = metadata.logit_bias or [0.0] * len(metadata.classes)
        self.logit_bias = np.asarray(bias, dtype=np.float32)

    @classmethod
    def load(cls, name: str, weights_dir: Path) -> OnnxClassifier:
        directory = model_dir(name, weights_dir)
        path = directory / ONNX_FILE
        if not path.is_file():
            raise ModelNotInstalled(name, directory)
        metadata = read_metadata(name, weights_dir)
        if metadata.task != "classification":
            raise ValueError(f"{name} is a {metadata.task} model, not a classifier")
        session = open_session(path)
        weights_path = directory / metadata.weights_file
        exported_from = session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
        # Without the PyTorch weights beside it (an ONNX-only install) there is nothing to
        # compare with, and the export is trusted as installed.
        if weights_path.is_file() and exported_from != source_fingerprint(metadata, weights_path):
            raise OutdatedExport(name, path)
        return cls(session, metadata)

    @property
    def classes(self) -> list[str]:
        return self.metadata.classes

    def input_tensor(self, image: Image.Image) -> torch.Tensor:
        return image_to_input(image, self.metadata)

    def logits(self, inputs: torch.Tensor | np.ndarray) -> np.ndarray:
        """The network's raw output for a normalised NxCxHxW batch."""
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        batch = np.ascontiguousarray(inputs, dtype=np.float32)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def probabilities_from_logits(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits.astype(np.float32) + self.logit_bias)

    def predict_batch(self, inputs: torch.Tensor | np.ndarray) -> np.ndarray:
        """Class probabilities for a normalised NxCxHxW batch, as ``Classifier`` serves them."""
        if not self.metadata.test_time_flips:
            return self.probabilities_from_logits(self.logits(inputs))
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        # The same four views, in the same order, as Classifier.predict_batch (axes 2 and 3:
        # height and width of an image, depth and height of a volume).
        views = np.concatenate([inputs, np.flip(inputs, 3), np.flip(inputs, 2),
                                np.flip(inputs, (2, 3))])
        probabilities = self.probabilities_from_logits(self.logits(views))
        return probabilities.reshape(4, len(inputs), -1).mean(0)

    def predict(self, image: Image.Image) -> dict[str, float]:
        probabilities = self.predict_batch(self.input_tensor(image))[0]
        return {c: float(p) for c, p in zip(self.classes, probabilities, strict=True)}
