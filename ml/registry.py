"""One registry: architectures by name, and installed models loaded from their weights.

``create_model(name, num_classes=...)`` builds an untrained network; it is for training and
tests. Serving goes through ``load_installed(name, weights_dir)``, which refuses to return a
model whose weights or metadata are missing: a user is never shown random weights.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Callable

from ml.metadata import METADATA_FILE, ModelMetadata

_ARCHITECTURES: dict[str, Callable] = {}
_load_lock = threading.Lock()


class ModelNotInstalled(Exception):
    """The named model has no weights in the weights directory."""

    def __init__(self, name: str, directory: Path):
        super().__init__(f"model not installed: {name} (looked in {directory})")
        self.name = name


def register(name: str):
    def decorator(builder: Callable) -> Callable:
        _ARCHITECTURES[name] = builder
        return builder

    return decorator


def architectures() -> list[str]:
    _import_builtin()
    return sorted(_ARCHITECTURES)


def create_model(name: str, **kwargs):
    _import_builtin()
    try:
        builder = _ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(architectures())}")
    return builder(**kwargs)


def model_dir(name: str, weights_dir: Path) -> Path:
    return Path(weights_dir) / name


def read_installed_metadata(name: str, weights_dir: Path) -> ModelMetadata:
    directory = model_dir(name, weights_dir)
    if not (directory / METADATA_FILE).is_file():
        raise ModelNotInstalled(name, directory)
    metadata = ModelMetadata.read(directory)
    if not (directory / metadata.weights_file).is_file():
        raise ModelNotInstalled(name, directory)
    return metadata


def load_installed(name: str, weights_dir: Path):
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
def _load_cached(name: str, weights_dir: str):
    metadata = read_installed_metadata(name, Path(weights_dir))
    path = model_dir(name, Path(weights_dir)) / metadata.weights_file
    if metadata.task == "classification":
        from ml.classifier import Classifier

        return Classifier.load(path, metadata)
    if metadata.task == "segmentation":
        from ml.segmentation import Segmenter

        return Segmenter.load(path, metadata)
    if metadata.task == "detection":
        from ml.detection import Detector

        return Detector.load(path, metadata)
    raise ValueError(f"{name}: unknown task {metadata.task!r} in {METADATA_FILE}")


def _import_builtin() -> None:
    import ml.architectures  # noqa: F401  (registers the built-in architectures)
