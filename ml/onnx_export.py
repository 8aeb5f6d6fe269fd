"""Export an installed classifier to ONNX: ``python -m ml.onnx_export MODEL``.

Writes ``model.onnx`` beside the model's weights (input ``input``, output ``logits``, any batch
size) and prints its path and the largest logit difference found. The file only replaces an
earlier export once ONNX Runtime's logits agree with PyTorch's, within a tolerance, on random
inputs and on drawn images (or CT volumes) through the serving preprocessing: a graph that was
translated wrongly is discarded with an error instead of serving diagnoses.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from PIL import Image, ImageDraw

from ml.classifier import Classifier
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelNotInstalled, load_installed, model_dir
from ml.metadata import ModelMetadata
from ml.onnx_runtime import (
    INPUT_NAME,
    ONNX_FILE,
    OUTPUT_NAME,
    SOURCE_KEY,
    OnnxClassifier,
    open_session,
    source_fingerprint,
)
from ml.preprocessing import image_to_input
from ml.volumes import Volume, volume_to_input

DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-4  # float32 logits of the same graph differ by ~1e-6 between runtimes


class ExportMismatch(Exception):
    """ONNX Runtime's output for an exported graph differs from PyTorch's."""


def export_classifier(name: str, weights_dir: Path, *, opset: int = DEFAULT_OPSET,
                      tolerance: float = DEFAULT_TOLERANCE) -> Path:
    """Export the installed classifier ``name`` to ``model.onnx`` beside its weights, checked."""
    return _export_checked(name, weights_dir, opset, tolerance)[0]


def _export_checked(name: str, weights_dir: Path, opset: int,
                    tolerance: float) -> tuple[Path, float]:
    classifier = load_installed(name, weights_dir)
    if not isinstance(classifier, Classifier):
        raise ValueError(f"{name} is a {classifier.metadata.task} model, not a classifier")
    directory = model_dir(name, weights_dir)
    path = directory / ONNX_FILE
    # Written next to its final place, then renamed: a worker loading the model never sees a
    # half-written file, and a failed check leaves the previous export untouched.
    scratch = directory / f".{ONNX_FILE}.{os.getpid()}.tmp"
    try:
        write_onnx(classifier.network, classifier.metadata, scratch, opset)
        record_source(scratch, source_fingerprint(
            classifier.metadata, directory / classifier.metadata.weights_file))
        difference = check_against_pytorch(classifier, scratch, tolerance)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    return path, difference


def write_onnx(network: torch.nn.Module, metadata: ModelMetadata, path: Path, opset: int) -> None:
    """The network's logits as an ONNX graph with a free batch axis."""
    example = torch.zeros(2, *input_shape(metadata))
    # The TorchScript exporter (dynamo=False), on purpose, so its deprecation notices are
    # muted: it needs no package beyond torch and writes the opset asked for. The
    # torch.export-based one needs onnxscript, and under torch 2.14 it cannot go below opset 18
    # for these networks (its conversion down to 17 fails).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            network, (example,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )


def record_source(path: Path, fingerprint: str) -> None:
    """Stamp the export with the weights it came from, so a stale one can be refused."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.metadata_props.add(key=SOURCE_KEY, value=fingerprint)
    onnx.save(model, str(path))


def check_against_pytorch(classifier: Classifier, onnx_path: Path, tolerance: float) -> float:
    """The largest absolute logit difference between PyTorch and ONNX Runtime over the check
    batches; raises ``ExportMismatch`` when it is above ``tolerance``."""
    exported = OnnxClassifier(open_session(onnx_path), classifier.metadata)
    largest = 0.0
    for what, inputs in check_batches(classifier.metadata).items():
        with torch.inference_mode():
            expected = classifier.network(inputs).float().numpy()
        actual = exported.logits(inputs)
        largest = max(largest, compare_logits(
            expected, actual, tolerance, f"{classifier.metadata.name}, {what}"))
    return largest


def compare_logits(expected: np.ndarray, actual: np.ndarray, tolerance: float,
                   what: str) -> float:
    if expected.shape != actual.shape:
        raise ExportMismatch(f"{what}: ONNX Runtime returned logits of shape {actual.shape}, "
                             f"PyTorch {expected.shape}")
    difference = float(np.abs(expected - actual).max())
    if not difference <= tolerance:  # also catches NaN
        raise ExportMismatch(f"{what}: ONNX Runtime logits differ from PyTorch's by "
                             f"{difference:.3g} (tolerance {tolerance:g})")
    return difference


def check_batches(metadata: ModelMetadata) -> dict[str, torch.Tensor]:
    """Inputs for the agreement check: noise reaches every weight; drawn inputs through the
    serving preprocessing give the value ranges the model sees in use. Neither batch has the
    size the graph was traced with."""
    noise = torch.randn(5, *input_shape(metadata), generator=torch.Generator().manual_seed(0))
    return {"random inputs": noise, "preprocessed inputs": sample_inputs(metadata, 3)}


def input_shape(metadata: ModelMetadata) -> tuple[int, ...]:
    """One input's shape, CxHxW or CxDxHxW: a channel per normalisation mean (RGB images
    have three, HU volumes one)."""
    return (len(metadata.mean), *metadata.input_size)


def sample_inputs(metadata: ModelMetadata, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` drawn inputs as the model receives them in use: photo-like images (a dark
    lesion on a shaded background) through the image preprocessing, or lung-like CT volumes
    with a nodule through the volume preprocessing."""
    rng = np.random.default_rng(seed)
    if len(metadata.input_size) == 3:
        return torch.cat([volume_to_input(drawn_volume(rng), metadata) for _ in range(count)])
    height, width = metadata.input_size
    images = [drawn_photo(rng, 2 * width, 2 * height) for _ in range(count)]
    return torch.cat([image_to_input(image, metadata) for image in images])


def drawn_photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    shade = np.linspace(0.8, 1.0, width)[None, :, None] * np.ones((height, 1, 1))
    image = Image.fromarray((rng.integers(120, 235, 3) * shade).astype(np.uint8), "RGB")
    box = [rng.uniform(0.1, 0.4) * width, rng.uniform(0.1, 0.4) * height,
           rng.uniform(0.6, 0.9) * width, rng.uniform(0.6, 0.9) * height]
    ImageDraw.Draw(image).ellipse(box, fill=tuple(int(v) for v in rng.integers(30, 120, 3)))
    return image


def drawn_volume(rng: np.random.Generator) -> Volume:
    spacing = (1.25, 0.7, 0.7)
    z, y, x = np.ogrid[:24, :48, :48]
    centre, radius = rng.uniform(-4, 4, 3), rng.uniform(2, 9)  # mm
    inside = (((z - 12) * spacing[0] - centre[0]) ** 2 + ((y - 24) * spacing[1] - centre[1]) ** 2
              + ((x - 24) * spacing[2] - centre[2]) ** 2) <= radius ** 2
    hu = rng.normal(-850, 30, (24, 48, 48)).astype(np.float32)
    hu[inside] = rng.uniform(-100, 100)
    return Volume(hu=hu, spacing=spacing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR)
    args = parser.parse_args(argv)
    try:
        path, difference = _export_checked(args.model, args.weights_dir, DEFAULT_OPSET,
                                           DEFAULT_TOLERANCE)
    except (ModelNotInstalled, ExportMismatch, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{path}  (largest logit difference from PyTorch: {difference:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
