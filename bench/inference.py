"""PyTorch against ONNX Runtime: the forward time of each installed classifier on CPU.

    python bench/inference.py [--weights-dir DIR] [--repeats N]

Every classifier in the weights folder (metadata task "classification") is first exported to
ONNX when it has no export or an outdated one (``ml.onnx_export``, which checks the export
against PyTorch). Both runtimes then run the network alone on the same normalised inputs
(drawn photos or CT nodules through the serving preprocessing), batch 1 and batch 32: PyTorch
under ``torch.inference_mode()`` with its default threads, ONNX Runtime as served
(``ml.onnx_runtime``: CPU provider, default threads, no spin-waiting), the two taking turns run
by run. Reported: the median and p90 over
N runs after warm-up runs, and how far the served probabilities (prior correction and
test-time flips as installed) of the two runtimes are apart on the batch of 32. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.installed import ModelNotInstalled, load_installed, read_installed_metadata  # noqa: E402
from ml.metadata import METADATA_FILE, ModelMetadata  # noqa: E402
from ml.onnx_export import export_classifier, sample_inputs  # noqa: E402
from ml.onnx_runtime import OnnxClassifier  # noqa: E402
from ml.timing import Stopwatch  # noqa: E402

BATCH_SIZES = (1, 32)
WARMUP_RUNS = 3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "ml" / "weights")
    parser.add_argument("--repeats", type=int, default=30)
    return parser.parse_args()


def installed_classifiers(weights_dir: Path) -> list[str]:
    names = []
    for directory in sorted(p for p in weights_dir.iterdir() if (p / METADATA_FILE).is_file()):
        if ModelMetadata.read(directory).task != "classification":
            continue
        try:
            read_installed_metadata(directory.name, weights_dir)
        except ModelNotInstalled as error:
            print(f"skipped: {error}", file=sys.stderr)
            continue
        names.append(directory.name)
    return names


def onnx_classifier(name: str, weights_dir: Path) -> tuple[OnnxClassifier, bool]:
    """The ONNX Runtime classifier, exported first when missing or outdated (and whether it
    was)."""
    try:
        return OnnxClassifier.load(name, weights_dir), False
    except ModelNotInstalled:
        export_classifier(name, weights_dir)
        return OnnxClassifier.load(name, weights_dir), True


def timings_ms(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """Median and p90 of each call, the calls taking turns so that load from other processes
    on the machine falls on all of them alike."""
    for _ in range(WARMUP_RUNS):
        for call in calls.values():
            call()
    samples = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            with Stopwatch() as watch:
                call()
            samples[label].append(watch.seconds * 1000)
    summary = {}
    for label, values in samples.items():
        values.sort()
        summary[label] = {"median_ms": round(statistics.median(values), 3),
                          "p90_ms": round(values[int(0.9 * (len(values) - 1))], 3)}
    return summary


def bench_model(name: str, weights_dir: Path, repeats: int) -> dict:
    pytorch = load_installed(name, weights_dir)
    exported, exported_now = onnx_classifier(name, weights_dir)
    inputs = sample_inputs(pytorch.metadata, max(BATCH_SIZES))
    result = {"version": pytorch.metadata.version, "exported_now": exported_now,
              "input_size": pytorch.metadata.input_size}
    for batch in BATCH_SIZES:
        tensor = inputs[:batch].contiguous()
        array = tensor.numpy()
        with torch.inference_mode():
            result[f"batch_{batch}"] = timings_ms({
                "pytorch": functools.partial(pytorch.network, tensor),
                "onnxruntime": functools.partial(exported.logits, array),
            }, repeats)
    expected, served = pytorch.predict_batch(inputs), exported.predict_batch(inputs)
    result["test_time_flips"] = pytorch.metadata.test_time_flips
    result["max_probability_difference"] = float(np.abs(expected - served).max())
    result["top_class_agreement"] = float((expected.argmax(1) == served.argmax(1)).mean())
    return result


def main() -> None:
    args = parse_args()
    names = installed_classifiers(args.weights_dir)
    if not names:
        raise SystemExit(f"no installed classifier in {args.weights_dir}")
    models = {name: bench_model(name, args.weights_dir, args.repeats) for name in names}

    print(f"{'model':<18}{'batch':>6}{'pytorch median / p90':>24}{'onnxruntime median / p90':>28}"
          f"{'speed-up':>10}")
    for name, result in models.items():
        for batch in BATCH_SIZES:
            row = result[f"batch_{batch}"]
            torch_ms, onnx_ms = row["pytorch"], row["onnxruntime"]
            print(f"{name:<18}{batch:>6}"
                  f"{torch_ms['median_ms']:>13.2f} /{torch_ms['p90_ms']:>7.2f} ms"
                  f"{onnx_ms['median_ms']:>17.2f} /{onnx_ms['p90_ms']:>7.2f} ms"
                  f"{torch_ms['median_ms'] / onnx_ms['median_ms']:>9.2f}x")
        print(f"{'':<18}served probabilities, batch of {max(BATCH_SIZES)}: largest difference "
              f"{result['max_probability_difference']:.1e}, same top class "
              f"{result['top_class_agreement']:.0%}")
    print(json.dumps({
        "models": models,
        "repeats": args.repeats,
        "warmup_runs": WARMUP_RUNS,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime_threads": "default (one per core), no spin-waiting",
    }))


if __name__ == "__main__":
    main()
