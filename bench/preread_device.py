"""The models' work per study on one device: a skin photo, a chest X-ray, a 300-slice CT
and one nodule, with the shipped weights.

    ML_DEVICE=cpu  python bench/preread_device.py [--runs 5] [--slices 300] [--size 512]
    ML_DEVICE=cuda python bench/preread_device.py

Pure ml (no Django): what a worker on that device spends on each study once the files are
read. The first run (loading the models, warming CUDA) is reported apart from the median.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ct_pipeline import SpherePhantom  # noqa: E402  (bench/ is the script's folder, on sys.path)

from ml.timing import Stopwatch  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "ml" / "weights")
    return parser.parse_args()


def timed(call, runs: int) -> dict:
    seconds = []
    for _ in range(runs + 1):
        with Stopwatch() as watch:
            call()
            sync()
        seconds.append(watch.seconds)
    return {"first_s": round(seconds[0], 4), "median_s": round(statistics.median(seconds[1:]), 4)}


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def sample_images() -> tuple[Image.Image, Image.Image]:
    """A real photo and film from ../shared/data when there, so that the input gate lets them
    through to every model; otherwise noise, which the gates refuse (the timings are then of
    the refusal, and say so)."""
    photos = sorted((SHARED / "ham10000_600" / "images").glob("*.jpg"))
    films = sorted((SHARED / "chest_xray_fullres" / "NORMAL").glob("*.jpeg"))
    if photos and films:
        return Image.open(photos[0]).convert("RGB"), Image.open(films[0]).convert("L")
    print("no ../shared/data: timing noise images, which the input gates refuse early")
    rng = np.random.default_rng(0)
    return (Image.fromarray(rng.integers(60, 200, (450, 600, 3), dtype=np.uint8)),
            Image.fromarray(rng.integers(0, 255, (1024, 1024), dtype=np.uint8), mode="L"))


def main() -> int:
    args = parse_args()
    import torch

    from ml.chest import analyse_radiograph
    from ml.ct import analyse_ct, nodule_malignancy
    from ml.devices import inference_device
    from ml.skin import analyse_skin_photo
    from tests.ml.model_fixtures import write_ct_series

    photo, radiograph = sample_images()
    results = {"device": str(inference_device()),
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "torch": torch.__version__, "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="bench-device-") as tmp:
        phantom = SpherePhantom(args.slices, args.size)
        files = write_ct_series(Path(tmp) / "ct", phantom, spacing=phantom.spacing, signed=True)
        nodule = phantom.spheres[0][:3]
        weights = args.weights_dir
        results["skin_photo"] = timed(lambda: analyse_skin_photo(photo, weights_dir=weights), args.runs)
        results["chest_xray"] = timed(lambda: analyse_radiograph(radiograph, weights_dir=weights), args.runs)
        results["ct"] = timed(lambda: analyse_ct(files, weights_dir=weights), max(1, args.runs // 2))
        results["nodule"] = timed(lambda: nodule_malignancy(files, nodule, weights_dir=weights), args.runs)
    for name in ("skin_photo", "chest_xray", "ct", "nodule"):
        row = results[name]
        print(f"{name:<12} first {row['first_s']:>8.3f} s   median {row['median_s']:>8.3f} s")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
