"""N patients upload a photo each, all at once, through nginx: how fast the stack takes the
uploads and how long the ML queue takes to drain.

    python bench/load.py [--url http://127.0.0.1:8080] [--patients 100] [--start-stack]
                         [--accounts FILE] [--timeout 1200]

Against the running `make stack` (or one started here with --start-stack, stopped again at
the end unless it was already running or --keep-stack). Loopback only, at most 1000 patients,
every wait bounded by --timeout.

1. Accounts: each patient signs up through the API (timed on its own, not as uploads), or
   the tokens come from --accounts FILE (written on the first run, reused afterwards).
2. Uploads: every patient's thread waits at a barrier, then POSTs one photo (the HAM10000
   600x450 images, a different one each, or a drawn one) to /api/v1/studies/. Measured:
   uploads per second (patients / time from the first request to the last answer) and the
   p50/p95/max latency of one upload.
3. Drain: the studies are polled through the API until every one is done or failed.
   Measured: the time from the first upload until the last study finished (by the server's
   own timestamps, and as seen by this client), and each study's time from upload to done.
4. Checks: zero upload errors, zero failed studies, zero lost studies (each patient's list
   grew by exactly one study, the one uploaded, and it finished).

Prints a table; the last line is one JSON object. Exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.timing import Stopwatch  # noqa: E402

RUN_CLOCK = Stopwatch()  # the time base of every record: seconds since this run started
PHOTO_DIR = ROOT.parent / "shared" / "data" / "ham10000_600" / "images"
PASSWORD = "load-test-Password-8271"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_PATIENTS = 1000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the stack's nginx (loopback only)")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--start-stack", action="store_true", help="run `make stack` first if it is not up")
    parser.add_argument("--keep-stack", action="store_true", help="leave a stack started here running")
    parser.add_argument("--accounts", type=Path, help="JSON file of pre-made accounts (written if missing)")
    parser.add_argument("--signup-concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=1200, help="seconds for the whole run")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    args = parser.parse_args()
    parts = urlsplit(args.url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        parser.error("--url must be http:// on the loopback (127.0.0.1, localhost, ::1)")
    if not 1 <= args.patients <= MAX_PATIENTS:
        parser.error(f"--patients must be between 1 and {MAX_PATIENTS}")
    return args


class Client:
    """One request per connection, as separate patients' phones would."""

    def __init__(self, url: str, timeout: float = 120):
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port or 80, timeout

    def request(self, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
                content_type: str | None = None) -> tuple[int, bytes]:
        headers = {}
        if token:
            headers["Authorization"] = f"Token {token}"
        if content_type:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        status, body = self.request(method, path, **kwargs)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"raw": body[:300].decode("utf-8", "replace")}

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False


# --- the stack ---------------------------------------------------------------------------

def ensure_stack(client: Client, url: str, start: bool) -> bool:
    """True when this run started the stack."""
    if client.healthy():
        return False
    if not start:
        sys.exit(f"no stack answers at {url}/healthz: run `make stack` or pass --start-stack")
    port = str(urlsplit(url).port or 80)
    subprocess.run(["make", "--no-print-directory", "stack"], cwd=ROOT, check=True, env=_env_with(STACK_PORT=port))
    return True


def stop_stack(url: str) -> None:
    port = str(urlsplit(url).port or 80)
    subprocess.run(["make", "--no-print-directory", "stack-stop"], cwd=ROOT, check=False,
                   env=_env_with(STACK_PORT=port))


def _env_with(**values: str) -> dict:
    return dict(os.environ, **values)


# --- the patients -------------------------------------------------------------------------

def photos(count: int) -> list[tuple[str, bytes]]:
    files = sorted(PHOTO_DIR.glob("*.jpg"))[:count] if PHOTO_DIR.is_dir() else []
    if files:
        return [(path.name, path.read_bytes()) for path in (files * count)[:count]]
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 450), (225, 180, 160))
    ImageDraw.Draw(image).ellipse([200, 130, 420, 330], fill=(70, 45, 35))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return [("drawn.jpg", buffer.getvalue())] * count


def multipart(kind: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = f"----load-{uuid.uuid4().hex}"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def sign_up(client: Client, count: int, concurrency: int) -> tuple[list[dict], list[str], float]:
    prefix = f"load-{uuid.uuid4().hex[:8]}"

    def one(index: int) -> dict | str:
        username = f"{prefix}-{index:04d}"
        try:
            status, data = client.json("POST", "/api/v1/auth/signup/", content_type="application/json",
                                       body=json.dumps({"username": username, "password": PASSWORD}).encode())
        except OSError as exc:
            return f"{username}: {exc}"
        if status != 201:
            return f"{username}: HTTP {status} {data}"
        return {"username": username, "token": data["token"]}

    with Stopwatch() as watch, ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(count)))
    seconds = watch.seconds
    return [r for r in results if isinstance(r, dict)], [r for r in results if isinstance(r, str)], seconds


def accounts_for(client: Client, args: argparse.Namespace) -> tuple[list[dict], dict]:
    stored = json.loads(args.accounts.read_text()) if args.accounts and args.accounts.exists() else []
    if len(stored) >= args.patients:
        return stored[:args.patients], {"signed_up": 0, "reused": args.patients, "errors": [], "seconds": 0.0}
    made, errors, seconds = sign_up(client, args.patients - len(stored), args.signup_concurrency)
    accounts = stored + made
    if args.accounts:
        args.accounts.parent.mkdir(parents=True, exist_ok=True)
        args.accounts.write_text(json.dumps(accounts))
    return accounts, {"signed_up": len(made), "reused": len(stored), "errors": errors, "seconds": seconds}


def upload_all(client: Client, accounts: list[dict]) -> list[dict]:
    """Every patient uploads at the same moment; returns one record per patient."""
    pictures = photos(len(accounts))
    bodies = [multipart("skin_photo", name, data) for name, data in pictures]
    barrier = threading.Barrier(len(accounts))
    records: list[dict] = [{} for _ in accounts]

    def one(index: int) -> None:
        body, content_type = bodies[index]
        before = study_count(client, accounts[index]["token"])
        barrier.wait()
        started = RUN_CLOCK.seconds
        try:
            status, data = client.json("POST", "/api/v1/studies/", token=accounts[index]["token"],
                                       body=body, content_type=content_type)
            error = None if status == 201 else f"HTTP {status} {data}"
        except OSError as exc:
            status, data, error = 0, {}, repr(exc)
        records[index] = {"started": started, "ended": RUN_CLOCK.seconds, "status": status,
                          "study_id": data.get("id") if error is None else None, "error": error,
                          "account": accounts[index], "studies_before": before}

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(accounts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


def drain(client: Client, uploaded: list[dict], deadline: float, interval: float) -> dict[str, dict]:
    """Poll until every uploaded study is done or failed (or the deadline passes).

    The ML queue runs roughly in upload order, so each round looks at the pending studies
    in that order and stops at the third one still waiting: the polling itself stays a few
    requests a second and takes no CPU from the worker being measured. A study counts as
    finished only once it is seen finished.
    """
    pending = [(r["study_id"], r["account"]["token"]) for r in sorted(uploaded, key=lambda r: r["ended"])]
    finished: dict[str, dict] = {}
    while pending and RUN_CLOCK.seconds < deadline:
        round_started = RUN_CLOCK.seconds
        waiting = 0
        for study_id, token in list(pending):
            try:
                status, data = client.json("GET", f"/api/v1/studies/{study_id}/", token=token)
            except OSError:
                status, data = 0, {}
            if status == 200 and data.get("status") in {"done", "failed"}:
                data["seen_finished"] = RUN_CLOCK.seconds
                finished[study_id] = data
                pending.remove((study_id, token))
                continue
            waiting += 1
            if waiting >= 3:
                break
        time.sleep(max(0.0, interval - (RUN_CLOCK.seconds - round_started)))
    return finished


def study_count(client: Client, token: str) -> int | None:
    status, data = client.json("GET", "/api/v1/studies/", token=token)
    return data.get("count") if status == 200 else None


def lost_studies(client: Client, uploaded: list[dict]) -> list[str]:
    """Patients whose list does not hold the study they uploaded as its newest, or whose
    count did not grow by exactly one."""
    lost = []
    for record in uploaded:
        status, data = client.json("GET", "/api/v1/studies/", token=record["account"]["token"])
        ids = [study["id"] for study in data.get("results", [])] if status == 200 else []
        count = data.get("count") if status == 200 else None
        before = record["studies_before"]
        if not ids or ids[0] != record["study_id"] or before is None or count != before + 1:
            lost.append(f"{record['account']['username']}: uploaded {record['study_id']}; "
                        f"HTTP {status}, {before} studies before, {count} after, newest {ids[:1]}")
    return lost


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main() -> int:
    args = parse_args()
    client = Client(args.url)
    deadline = RUN_CLOCK.seconds + args.timeout
    started_stack = ensure_stack(client, args.url, args.start_stack)
    try:
        return run(client, args, deadline)
    finally:
        if started_stack and not args.keep_stack:
            stop_stack(args.url)


def run(client: Client, args: argparse.Namespace, deadline: float) -> int:
    accounts, signups = accounts_for(client, args)
    if signups["errors"]:
        print(f"{len(signups['errors'])} sign-ups failed, e.g. {signups['errors'][0]}", file=sys.stderr)

    records = upload_all(client, accounts)
    first_start = min(r["started"] for r in records)
    last_end = max(r["ended"] for r in records)
    upload_window = last_end - first_start
    uploaded = [r for r in records if r["error"] is None]
    upload_errors = [r["error"] for r in records if r["error"] is not None]
    latencies = [r["ended"] - r["started"] for r in uploaded]

    finished = drain(client, uploaded, deadline, args.poll_interval)
    failed = {sid: s["failure_reason"] for sid, s in finished.items() if s["status"] == "failed"}
    unfinished = [r["study_id"] for r in uploaded if r["study_id"] not in finished]
    # With no time left the check is skipped; the unfinished studies already fail the run.
    lost_checked = RUN_CLOCK.seconds < deadline
    lost = lost_studies(client, uploaded) if lost_checked else []

    done = [s for s in finished.values() if s["status"] == "done"]
    created = [timestamp(s["created_at"]) for s in finished.values()]
    ended = [timestamp(s["finished_at"]) for s in finished.values() if s.get("finished_at")]
    in_system = [timestamp(s["finished_at"]) - timestamp(s["created_at"]) for s in done]
    drain_server = (max(ended) - min(created)) if ended and created else None
    drain_client = (max(s["seen_finished"] for s in finished.values()) - first_start) if finished else None
    analysed_per_s = len(done) / drain_server if drain_server else None

    summary = {
        "url": args.url,
        "patients": len(accounts),
        "signups": signups["signed_up"], "accounts_reused": signups["reused"],
        "signup_errors": len(signups["errors"]), "signup_seconds": round(signups["seconds"], 2),
        "uploads_ok": len(uploaded), "upload_errors": len(upload_errors),
        "upload_window_s": round(upload_window, 3),
        "uploads_per_s": round(len(uploaded) / upload_window, 2) if upload_window else None,
        "upload_latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "upload_latency_p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "upload_latency_max_s": round(max(latencies), 3) if latencies else None,
        "studies_done": len(done), "studies_failed": len(failed), "studies_unfinished": len(unfinished),
        "studies_lost": len(lost), "lost_checked": lost_checked,
        "drain_s_server_clock": round(drain_server, 2) if drain_server else None,
        "drain_s_client_seen": round(drain_client, 2) if drain_client else None,
        "analysed_per_s": round(analysed_per_s, 3) if analysed_per_s else None,
        "upload_to_done_p50_s": round(statistics.median(in_system), 2) if in_system else None,
        "upload_to_done_p95_s": round(percentile(in_system, 0.95), 2) if in_system else None,
        "ok": not (upload_errors or failed or unfinished or lost or signups["errors"]),
    }
    print_table(summary)
    for label, problems in (("upload error", upload_errors), ("failed study", list(failed.items())),
                            ("unfinished study", unfinished), ("lost study", lost)):
        for problem in problems[:5]:
            print(f"  {label}: {problem}")
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


def print_table(s: dict) -> None:
    def seconds(value) -> str:
        return "-" if value is None else f"{value:.2f} s"

    rows = [
        ("patients", (f"{s['patients']} ({s['signups']} signed up in {s['signup_seconds']:.1f} s, "
                      f"{s['accounts_reused']} reused, {s['signup_errors']} errors)")),
        ("uploads", f"{s['uploads_ok']} ok, {s['upload_errors']} errors in {s['upload_window_s']:.2f} s"),
        ("uploads per second", f"{s['uploads_per_s']}"),
        ("upload latency", (f"p50 {seconds(s['upload_latency_p50_s'])}, "
                            f"p95 {seconds(s['upload_latency_p95_s'])}, "
                            f"max {seconds(s['upload_latency_max_s'])}")),
        ("queue drained", (f"{seconds(s['drain_s_server_clock'])} after the first upload "
                           f"(server clock; {seconds(s['drain_s_client_seen'])} as seen here)")),
        ("analysed per second", f"{s['analysed_per_s']}"),
        ("upload to done", f"p50 {seconds(s['upload_to_done_p50_s'])}, p95 {seconds(s['upload_to_done_p95_s'])}"),
        ("studies", (f"{s['studies_done']} done, {s['studies_failed']} failed, "
                     f"{s['studies_unfinished']} unfinished, {s['studies_lost']} lost")),
        ("result", "OK" if s["ok"] else "FAILED"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
