"""Time and memory of a chest CT pre-read, on a synthetic series written with pydicom.

    python bench/ct_pipeline.py [--runs N] [--slices 300] [--size 512] [--threads 2]
                                [--weights-dir DIR]

A series of ``--slices`` int16 slices of ``--size`` pixels (a body, two lungs and a few
dense spheres as nodules) is written slice by slice into a temporary folder. Each run then
measures, in this process:

- ingest: the upload path of the platform (``studies.intake.scans``): every file checked,
  its pixels decoded once, the series ordered, each slice de-identified and stored, one
  study created (temporary SQLite database and media folder). The later stages read the
  stored, de-identified copies, as the worker does;
- reading: ``ml.dicom.read_series`` (headers, then slice-by-slice decoding into the volume);
- analyse_ct: reading again, ct-pathology, previews, montage and the viewer volume. The
  ct-pathology weights are the real architecture (CNN3D, 64^3) randomly initialised by
  ``tests.ml.model_fixtures.write_test_ct_pathology``, for timing only: they are written to the
  temporary folder and their metadata says so; nothing is installed in ml/weights;
- nodule_malignancy: the installed nodule-malignancy at one sphere, with its 3D Grad-CAM.

The first run includes loading the models (a worker's first study). Memory per stage: the
peak RSS sampled every 2 ms while it runs, the growth of ``ru_maxrss`` (the process's peak
so far, so a stage that stays under an earlier peak shows 0) and the RSS after it; one
extra run under tracemalloc gives the peak of traced allocations (numpy reports its arrays
to tracemalloc, torch does not). Targets: analyse_ct + nodule_malignancy under 20 s in every
run (ingest + analyse_ct + nodule_malignancy) and a process peak RSS under 2 GB, on ``--threads``
CPU cores. The exit code is 0 either way; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from djangoenv import setup_django  # noqa: E402  (bench/ is the script's folder, on sys.path)

from ml.timing import Stopwatch  # noqa: E402

TARGET_SECONDS = 20.0
TARGET_PEAK_MB = 2048.0
FIELD_OF_VIEW_MM = 360.0
SLICE_MM = 1.25
STAGES = ("ingest", "reading", "analyse_ct", "nodule_malignancy")
TOTAL_STAGES = ("ingest", "analyse_ct", "nodule_malignancy")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512, help="rows and columns of a slice")
    parser.add_argument("--threads", type=int, default=2, help="CPU cores to use")
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "ml" / "weights",
                        help="where nodule-malignancy is installed")
    return parser.parse_args()


class SpherePhantom:
    """A chest-like series made one slice at a time: air, an elliptic body, two lungs and
    dense spheres (centre slice, row, column and radius in mm) in the lungs."""

    def __init__(self, slices: int, size: int):
        self.shape = (slices, size, size)
        self.spacing = (SLICE_MM, FIELD_OF_VIEW_MM / size, FIELD_OF_VIEW_MM / size)
        self.spheres = [(int(slices * f), int(size * r), int(size * c), radius)
                        for f, r, c, radius in ((0.35, 0.45, 0.30, 8.0), (0.5, 0.5, 0.70, 6.0),
                                                (0.65, 0.55, 0.35, 10.0))]

    def __getitem__(self, index: int) -> np.ndarray:
        _, size, _ = self.shape
        z_mm, row_mm, column_mm = self.spacing
        y, x = np.ogrid[:size, :size]
        half = size / 2
        hu = np.full((size, size), -1000.0, np.float32)
        hu[((y - half) / (0.38 * size)) ** 2 + ((x - half) / (0.46 * size)) ** 2 <= 1] = 40.0
        for centre_x in (0.3 * size, 0.7 * size):
            lung = ((y - half) / (0.3 * size)) ** 2 + ((x - centre_x) / (0.17 * size)) ** 2 <= 1
            hu[lung] = -850.0
        for slice_index, row, column, radius in self.spheres:
            height = (index - slice_index) * z_mm
            if abs(height) < radius:
                across = (radius ** 2 - height ** 2)
                hu[((y - row) * row_mm) ** 2 + ((x - column) * column_mm) ** 2 <= across] = 60.0
        noise = np.random.default_rng(index).normal(0, 15, hu.shape).astype(np.float32)
        return (hu + noise).round()


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class PeakRss:
    """The highest RSS seen while the block runs, sampled from a thread."""

    def __enter__(self):
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *error):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def measure(call, traced: bool = False) -> tuple[object, dict]:
    """What ``call`` returns (keep it small) and its seconds and memory."""
    gc.collect()
    before = max_rss_mb()
    if traced:
        tracemalloc.start()
    with PeakRss() as peak, Stopwatch() as watch:
        result = call()
    numbers = {"seconds": watch.seconds, "peak_rss_mb": peak.peak,
               "maxrss_growth_mb": max_rss_mb() - before}
    if traced:
        numbers["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    gc.collect()
    numbers["rss_after_mb"] = rss_mb()
    return result, numbers


def summarise(analysis) -> dict:
    return {"shape": analysis.shape, "pathology": analysis.pathology, "timings": analysis.timings}


def ingest(files: list[Path]) -> list[Path]:
    """Send the series through the platform's ingest; the stored copies' paths."""
    from django.core.files.uploadedfile import UploadedFile

    from accounts.models import User
    from studies.intake.scans import radiology_studies_create

    owner, _ = User.objects.get_or_create(username="bench-clinician", defaults={"role": User.Role.CLINICIAN})
    handles = [path.open("rb") for path in files]
    try:
        uploads = [UploadedFile(handle, name=path.name, size=path.stat().st_size)
                   for handle, path in zip(handles, files, strict=True)]
        (study,) = radiology_studies_create(owner=owner, kind="ct", uploads=uploads, language="en")
    finally:
        for handle in handles:
            handle.close()
    return [Path(f.file.path) for f in study.files.order_by("id")]


@dataclass
class Measurements:
    written_s: float  # writing the synthetic series
    startup_rss_mb: float  # after writing the series and one ingest, before the timed runs
    runs: list[dict]  # per run, each stage's numbers from measure()
    steps: list[dict]  # per run, analyse_ct's own stage timings
    traced: dict[str, float]  # per stage, the peak of traced allocations
    process_peak_mb: float = 0.0


def use_threads(threads: int) -> None:
    """Pin the process to ``threads`` cores before torch starts its pools."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    import torch

    torch.set_num_threads(threads)


def run_stages(args: argparse.Namespace) -> Measurements:
    """Write the series and the test model into a temporary folder and measure every stage
    ``args.runs`` times, then once more under tracemalloc."""
    from ml.ct import NODULE_MALIGNANCY, analyse_ct, nodule_malignancy
    from ml.dicom import read_series
    from tests.ml.model_fixtures import TIMING_USE, write_ct_series, write_test_ct_pathology

    with tempfile.TemporaryDirectory(prefix="bench-ct-") as folder:
        tmp = Path(folder)
        setup_django(tmp / "var")
        phantom = SpherePhantom(args.slices, args.size)
        with Stopwatch() as watch:
            files = write_ct_series(tmp / "series", phantom, spacing=phantom.spacing, signed=True)
        weights = tmp / "weights"
        write_test_ct_pathology(weights, architecture="cnn3d", input_size=(64, 64, 64),
                                intended_use=TIMING_USE)
        (weights / NODULE_MALIGNANCY).symlink_to(args.weights_dir.resolve() / NODULE_MALIGNANCY)
        nodule = phantom.spheres[0][:3]
        stored = ingest(files)  # once before timing: the stages below read the stored copies
        calls = {  # each returns something small, so that the volume is freed at once
            "ingest": lambda: len(ingest(files)),
            "reading": lambda: read_series(stored).hu.shape,
            "analyse_ct": lambda: summarise(analyse_ct(stored, weights_dir=weights)),
            "nodule_malignancy": lambda: nodule_malignancy(stored, nodule, weights_dir=weights).probability,
        }
        measured = Measurements(written_s=watch.seconds, startup_rss_mb=rss_mb(), runs=[], steps=[],
                                traced={})
        for _ in range(args.runs):
            numbers = {}
            for stage in STAGES:
                result, numbers[stage] = measure(calls[stage])
                if stage == "analyse_ct":
                    measured.steps.append(result["timings"])
                    assert result["shape"] == phantom.shape and result["pathology"], result
            measured.runs.append(numbers)
        measured.traced = {stage: measure(calls[stage], traced=True)[1]["traced_peak_mb"]
                           for stage in STAGES}
    measured.process_peak_mb = max_rss_mb()
    return measured


def stage_summary(values: list[dict], traced_peak_mb: float) -> dict:
    """One stage over the runs: median and first seconds, the memory figures."""
    return {
        "median_s": round(statistics.median(v["seconds"] for v in values), 3),
        "first_s": round(values[0]["seconds"], 3),
        "peak_rss_mb": round(max(v["peak_rss_mb"] for v in values)),
        "maxrss_growth_mb": round(max(v["maxrss_growth_mb"] for v in values)),
        "rss_after_mb": round(values[-1]["rss_after_mb"]),
        "traced_peak_mb": round(traced_peak_mb),
    }


def run_totals(runs: list[dict]) -> list[float]:
    """Seconds of ingest + analyse_ct + nodule_malignancy in each run."""
    return [sum(run[stage]["seconds"] for stage in TOTAL_STAGES) for run in runs]


def summarise_runs(args: argparse.Namespace, measured: Measurements) -> dict:
    """The JSON summary: per stage, analyse_ct's steps, the totals and the targets."""
    runs, steps, process_peak = measured.runs, measured.steps, measured.process_peak_mb
    summary = {"slices": args.slices, "size": args.size, "runs": args.runs,
               "threads": args.threads, "series_written_s": round(measured.written_s, 2),
               "startup_rss_mb": round(measured.startup_rss_mb),
               "stages": {stage: stage_summary([run[stage] for run in runs], measured.traced[stage])
                          for stage in STAGES}}
    totals = run_totals(runs)
    summary["analyse_ct_steps_median_s"] = {
        step: round(statistics.median(t[step] for t in steps), 3) for step in steps[0]}
    summary["totals_s"] = [round(t, 3) for t in totals]
    summary["total_median_s"] = round(statistics.median(totals), 3)
    summary["total_worst_s"] = round(max(totals), 3)
    summary["process_peak_rss_mb"] = round(process_peak)
    summary["target_s"], summary["target_peak_mb"] = TARGET_SECONDS, TARGET_PEAK_MB
    summary["targets_met"] = max(totals) < TARGET_SECONDS and process_peak < TARGET_PEAK_MB
    return summary


def print_report(args: argparse.Namespace, summary: dict, measured: Measurements) -> None:
    print(f"synthetic CT: {args.slices} x {args.size} x {args.size} int16, "
          f"{args.runs} run(s), {args.threads} thread(s); written in {measured.written_s:.1f} s")
    print(f"{'stage':<14}{'median s':>10}{'first s':>10}{'peak RSS MB':>13}"
          f"{'maxrss +MB':>12}{'RSS after MB':>14}{'traced MB':>11}")
    for stage, row in summary["stages"].items():
        print(f"{stage:<14}{row['median_s']:>10.2f}{row['first_s']:>10.2f}"
              f"{row['peak_rss_mb']:>13}{row['maxrss_growth_mb']:>12}{row['rss_after_mb']:>14}"
              f"{row['traced_peak_mb']:>11}")
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in summary["analyse_ct_steps_median_s"].items())
    print(f"analyse_ct steps (median): {steps}")
    print("ingest + analyse_ct + nodule_malignancy per run: "
          + ", ".join(f"{t:.2f} s" for t in run_totals(measured.runs)))
    print(f"ingest + analyse_ct + nodule_malignancy: median {summary['total_median_s']:.2f} s, worst "
          f"{summary['total_worst_s']:.2f} s (target < {TARGET_SECONDS:.0f} s); process peak "
          f"RSS {measured.process_peak_mb:.0f} MB (target < {TARGET_PEAK_MB:.0f} MB): targets "
          f"{'met' if summary['targets_met'] else 'NOT met'}")


def main() -> int:
    args = parse_args()
    use_threads(args.threads)
    measured = run_stages(args)
    summary = summarise_runs(args, measured)
    print_report(args, summary, measured)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
