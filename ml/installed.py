"""Installed models: ``ml/weights/<name>/metadata.json`` and the weights file it names.

Serving goes through ``load_installed(name, weights_dir)``, which refuses to return a model
whose weights or metadata are missing (``ModelNotInstalled``, "model not installed"): a user
is never shown random weights. Which network an architecture name builds is the registry's
business (:mod:`ml.models`), not this module's.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml.classifier import Classifier
from ml.detection import Detector
from ml.metadata import METADATA_FILE, MetadataError, ModelMetadata
from ml.segmentation import Segmenter

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
InstalledModel = Classifier | Segmenter | Detector
LOADERS: dict[str, Callable[[Path, ModelMetadata], InstalledModel]] = {
    "classification": Classifier.load,
    "segmentation": Segmenter.load,
    "detection": Detector.load,
}

_load_lock = threading.Lock()


class ModelNotInstalled(Exception):
    """The named model has no weights in the weights directory, or metadata that this code
    cannot serve faithfully (``reason``)."""

    def __init__(self, name: str, directory: Path, reason: str | None = None):
        super().__init__(f"model not installed: {name} ({reason or f'looked in {directory}'})")
        self.name = name


@dataclass(frozen=True)
class ModelInfo:
    """Which model gave a result."""

    name: str
    version: str


def model_info(model: InstalledModel) -> ModelInfo:
    return ModelInfo(model.metadata.name, model.metadata.version)


def model_dir(name: str, weights_dir: Path) -> Path:
    return Path(weights_dir) / name


def read_metadata(name: str, weights_dir: Path) -> ModelMetadata:
    """The installed metadata of ``name``, whatever its weights (an ONNX-only install has
    none in PyTorch's format)."""
    directory = model_dir(name, weights_dir)
    if not (directory / METADATA_FILE).is_file():
        raise ModelNotInstalled(name, directory)
    try:
        return ModelMetadata.read(directory)
    except MetadataError as error:
        raise ModelNotInstalled(name, directory, str(error)) from error


def read_installed_metadata(name: str, weights_dir: Path) -> ModelMetadata:
    """The metadata of ``name`` when its weights file is there too."""
    metadata = read_metadata(name, weights_dir)
    if not (model_dir(name, weights_dir) / metadata.weights_file).is_file():
        raise ModelNotInstalled(name, model_dir(name, weights_dir))
    return metadata


def load_installed(name: str, weights_dir: Path) -> InstalledModel:
    """The installed model ``name``, loaded once per process (and per weights directory)."""
    with _load_lock:
        return _load_cached(name, str(Path(weights_dir).resolve()))


def load_all_installed(weights_dir: Path) -> list[ModelMetadata]:
    """Load every model installed in ``weights_dir`` now (a worker does this once, at start);
    returns their metadata. A model that fails to load is left to be reported per study."""
    loaded = []
    for directory in sorted(Path(weights_dir).iterdir()) if Path(weights_dir).is_dir() else []:
        try:
            loaded.append(load_installed(directory.name, weights_dir).metadata)
        except ModelNotInstalled:
            continue
    return loaded


def clear_cache() -> None:
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=16)
def _load_cached(name: str, weights_dir: str) -> InstalledModel:
    metadata = read_installed_metadata(name, Path(weights_dir))
    if metadata.task not in LOADERS:
        raise ValueError(f"{name}: unknown task {metadata.task!r} in {METADATA_FILE}")
    return LOADERS[metadata.task](model_dir(name, Path(weights_dir)) / metadata.weights_file, metadata)
