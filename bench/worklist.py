"""Response time and query count of the radiologist's worklist, HTML page and API.

    python bench/worklist.py [--studies N] [--requests N]

Creates N radiology studies (default 10,000) with AI results, a mix of X-rays and CTs,
urgencies and claims (bulk_create), then requests the worklist page (/radiology/) and the
API (/api/v1/worklist/) as a radiologist through Django's test client: page 1 and page 100.
Reported: the median and p95 response time of each over --requests requests, and the
queries each page makes (page 1 and page 100 must make the same number). Django runs on a
temporary SQLite database in a temporary folder unless DATABASE_URL is set. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from djangoenv import setup_django  # noqa: E402  (bench/ is the script's folder, on sys.path)

from ml.timing import Stopwatch  # noqa: E402

TARGET_P95_S = 0.100
DEEP_PAGE = 100


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    return parser.parse_args()


def create_studies(count: int):
    """`count` open radiology studies with results; returns the radiologist who reads them."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from studies.models import Study, StudyResult

    rng = random.Random(7)
    radiologist = User.objects.create_user(username="bench-rita", password="bench-password-1",
                                           role=User.Role.RADIOLOGIST, first_name="Rita", last_name="Bench")
    colleague = User.objects.create_user(username="bench-ralph", password="bench-password-1",
                                         role=User.Role.RADIOLOGIST)
    sender = User.objects.create_user(username="bench-carl", password="bench-password-1", role=User.Role.CLINICIAN)
    now = timezone.now()
    urgencies = [Study.Urgency.URGENT, Study.Urgency.NOT_ASSESSED, Study.Urgency.ROUTINE]
    studies, results = [], []
    for index in range(count):
        kind = Study.Kind.CT if index % 3 == 0 else Study.Kind.CHEST_XRAY
        claimant = rng.choice([None, None, None, radiologist, colleague])
        study = Study(
            owner=sender, kind=kind, status=Study.Status.DONE, language="en",
            review=Study.Review.IN_REVIEW if claimant else Study.Review.AWAITING,
            claimed_by=claimant, claimed_at=now if claimant else None,
            urgency=rng.choices(urgencies, weights=[1, 1, 4])[0],
            patient_name=f"Patient {index:05d}", patient_identifier=f"PID-{index:07d}",
            patient_age=f"{rng.randint(18, 95):03d}Y", patient_sex=rng.choice("FM"),
            modality="CT" if kind == Study.Kind.CT else "CR",
            description="Chest low dose" if kind == Study.Kind.CT else "Chest PA",
            study_date=(now - datetime.timedelta(days=rng.randint(0, 30))).date(),
            image_count=rng.randint(80, 400) if kind == Study.Kind.CT else 1,
        )
        studies.append(study)
        pneumonia = rng.random()
        results.append(StudyResult(
            study=study,
            top_class=("pneumonia" if pneumonia >= 0.578 else "normal") if kind == Study.Kind.CHEST_XRAY else "",
            probabilities={"normal": 1 - pneumonia, "pneumonia": pneumonia} if kind == Study.Kind.CHEST_XRAY else {},
            models=[{"name": "pneumonia", "version": "1.0.0"}],
            findings={"pneumonia_type": {"normal": 0.2, "bacterial": 0.5, "viral": 0.3},
                      "not_installed": ["lung-opacity"], "timings": {"classification": 0.02}},
        ))
    with transaction.atomic():
        Study.objects.bulk_create(studies, batch_size=1000)
        StudyResult.objects.bulk_create(results, batch_size=1000)
        # auto_now_add stamped them all "now": spread the uploads over the last month
        for index, study in enumerate(studies):
            study.created_at = now - datetime.timedelta(minutes=5 * (count - index))
        Study.objects.bulk_update(studies, ["created_at"], batch_size=1000)
    return radiologist


def timed(client, url: str, requests: int) -> list[float]:
    for _ in range(5):
        client.get(url)  # warm-up: templates, SQLite's page cache
    samples = []
    for _ in range(requests):
        with Stopwatch() as watch:
            response = client.get(url)
        samples.append(watch.seconds)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return samples


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return len(queries)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-worklist-") as tmp:
        setup_django(Path(tmp))
        from django.test import Client
        from django.urls import reverse

        from radiology import worklist

        with Stopwatch() as watch:
            radiologist = create_studies(args.studies)
        setup_seconds = watch.seconds
        client = Client()
        client.force_login(radiologist)
        pages = worklist.worklist_for(user=radiologist).count() // worklist.PAGE_SIZE + 1
        deep = min(DEEP_PAGE, pages)
        html, api = reverse("radiology:worklist"), reverse("radiology-api:worklist")
        urls = {
            "html page 1": html, f"html page {deep}": f"{html}?page={deep}",
            "api page 1": api, f"api page {deep}": f"{api}?page={deep}",
        }
        measured = {}
        for name, url in urls.items():
            samples = timed(client, url, args.requests)
            measured[name] = {
                "median_ms": round(statistics.median(samples) * 1000, 2),
                "p95_ms": round(p95(samples) * 1000, 2),
                "queries": queries_of(client, url),
            }

    constant = (measured["html page 1"]["queries"] == measured[f"html page {deep}"]["queries"]
                and measured["api page 1"]["queries"] == measured[f"api page {deep}"]["queries"])
    worst_p95 = max(row["p95_ms"] for row in measured.values())
    summary = {
        "studies": args.studies,
        "requests_per_page": args.requests,
        "page_size": worklist.PAGE_SIZE,
        "setup_s": round(setup_seconds, 2),
        "database": os.environ["DATABASE_URL"].split(":", 1)[0],
        "pages": measured,
        "constant_queries": constant,
        "target_p95_ms": TARGET_P95_S * 1000,
        "meets_target": worst_p95 < TARGET_P95_S * 1000 and constant,
    }
    print(f"{args.studies} studies ({setup_seconds:.1f} s to create), {args.requests} requests per page")
    print(f"  {'page':<16}{'median ms':>10}{'p95 ms':>10}{'queries':>9}")
    for name, row in measured.items():
        print(f"  {name:<16}{row['median_ms']:>10.1f}{row['p95_ms']:>10.1f}{row['queries']:>9}")
    print(f"  constant query count: {'yes' if constant else 'NO'}; "
          f"target p95 < {TARGET_P95_S * 1000:.0f} ms: {'met' if summary['meets_target'] else 'NOT met'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
