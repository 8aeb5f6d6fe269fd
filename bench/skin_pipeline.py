"""Upload-to-report time for a patient's skin photo, with a warm worker.

    python bench/skin_pipeline.py [--photo PATH] [--runs N] [--weights-dir DIR]

A patient uploads a 600x450 photo through the real upload page (Django's test client, so
form validation and storage are included); a real Celery worker (filesystem broker, one
worker thread, models already loaded by warm-up uploads) analyses it; the clock stops when
the study is marked done with its PDF stored. Reported: the median and p90 end to end over
the runs, the median of each stage the worker records (classification, segmentation,
Grad-CAM, drawing, PDF, saving), and the pure forward time of each model beside them.
Runtime files go to a temporary folder. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from djangoenv import setup_django  # noqa: E402  (bench/ is the script's folder, on sys.path)

from ml.timing import Stopwatch  # noqa: E402

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import User
    from studies.models import Study

DEFAULT_PHOTO_DIR = ROOT.parent / "shared" / "data" / "ham10000_600" / "images"
TARGET_SECONDS = 1.5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=None,
                        help="a photo to upload (default: a 600x450 HAM10000 image, or a drawn one)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "ml" / "weights")
    return parser.parse_args()


def photo_bytes(path: Path | None) -> tuple[str, bytes]:
    if path is None and DEFAULT_PHOTO_DIR.is_dir():
        path = sorted(DEFAULT_PHOTO_DIR.glob("*.jpg"))[0]
    if path is not None:
        return path.name, path.read_bytes()
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 450), (225, 180, 160))
    ImageDraw.Draw(image).ellipse([200, 130, 420, 330], fill=(70, 45, 35))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return "drawn.jpg", buffer.getvalue()


def forward_times(weights_dir: Path, name: str, data: bytes, repeats: int = 20) -> dict:
    """Median seconds of each model's forward pass alone, on its preprocessed input."""
    import io

    import torch
    from PIL import Image

    from ml.installed import load_installed

    photo = Image.open(io.BytesIO(data)).convert("RGB")
    classifier = load_installed("skin-classifier", weights_dir)
    segmenter = load_installed("skin-segmenter", weights_dir)
    inputs = classifier.input_tensor(photo)
    size = segmenter.image_size
    seg_inputs = torch.rand(1, 3, size, size)
    network = segmenter.model.network.eval()

    def median_of(call) -> float:
        call()
        samples = []
        for _ in range(repeats):
            with Stopwatch() as watch:
                call()
            samples.append(watch.seconds)
        return statistics.median(samples)

    with torch.inference_mode():
        return {
            "classifier_forward": median_of(lambda: classifier.network(inputs)),
            "segmenter_forward": median_of(lambda: network(seg_inputs)),
        }


def upload_and_wait(client: Client, patient: User, name: str, data: bytes) -> tuple[float, Study]:
    """Upload the photo as ``patient`` and wait for the worker to finish its study; the
    seconds from upload to done, and the study."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from studies.models import Study

    watch = Stopwatch()
    response = client.post("/studies/new/", {"file": SimpleUploadedFile(
        name, data, content_type="image/jpeg")})
    if response.status_code != 302:
        raise SystemExit(f"upload failed: HTTP {response.status_code}")
    study = Study.objects.filter(owner=patient).latest("created_at")
    while study.status not in (Study.Status.DONE, Study.Status.FAILED):
        if watch.seconds > 120:
            raise SystemExit(f"study {study.id} not finished after 120 s")
        time.sleep(0.005)
        study.refresh_from_db(fields=["status", "failure_reason"])
    if study.status == Study.Status.FAILED:
        raise SystemExit(f"study failed: {study.failure_reason}")
    return watch.seconds, study


def time_uploads(runs: int, name: str, data: bytes) -> tuple[list[float], dict[str, list[float]]]:
    """Seconds end to end of each of ``runs`` uploads to a warm worker, and the seconds of
    each stage the worker recorded."""
    from celery.contrib.testing.worker import start_worker
    from django.test import Client

    from accounts.models import User
    from lesions_project.celery import app

    patient = User.objects.create_user(username="bench", password="bench-password-1")
    client = Client()
    client.force_login(patient)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        for _ in range(2):
            upload_and_wait(client, patient, name, data)  # warm-up: the worker loads the models once
        totals, stages = [], {}
        for _ in range(runs):
            seconds, study = upload_and_wait(client, patient, name, data)
            totals.append(seconds)
            for stage, value in study.result.findings.get("timings", {}).items():
                stages.setdefault(stage, []).append(value)
    return totals, stages


def main() -> None:
    args = parse_args()
    name, data = photo_bytes(args.photo)
    with tempfile.TemporaryDirectory(prefix="bench-skin-") as tmp:
        setup_django(Path(tmp), args.weights_dir)
        totals, stages = time_uploads(args.runs, name, data)
        forward = forward_times(args.weights_dir, name, data)

    totals.sort()
    summary = {
        "photo": name,
        "runs": args.runs,
        "end_to_end_median_s": round(statistics.median(totals), 4),
        "end_to_end_p90_s": round(totals[int(0.9 * (len(totals) - 1))], 4),
        "stages_median_s": {s: round(statistics.median(v), 4) for s, v in stages.items()},
        "model_forward_median_s": {k: round(v, 4) for k, v in forward.items()},
        "target_s": TARGET_SECONDS,
        "cpu_threads": __import__("torch").get_num_threads(),
    }
    print(f"end to end: median {summary['end_to_end_median_s']:.3f} s, "
          f"p90 {summary['end_to_end_p90_s']:.3f} s over {args.runs} uploads "
          f"(target < {TARGET_SECONDS} s)")
    for stage, value in summary["stages_median_s"].items():
        print(f"  {stage:<16}{value * 1000:8.1f} ms")
    for model, value in summary["model_forward_median_s"].items():
        print(f"  {model:<20}{value * 1000:8.1f} ms  (forward pass only)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
