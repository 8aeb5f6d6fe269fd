"""What every training run shares: seeding, run folders, logs and installing the result."""

from __future__ import annotations

import csv
import os
import platform
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  the global state is what third-party code (ultralytics' augmentations) draws from
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def machine_description() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EpochLog:
    """A CSV log with one row per epoch, printed as it is written."""

    def __init__(self, path: Path, append: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fields: list[str] | None = None
        if append and self.path.exists():
            with self.path.open(newline="") as handle:
                self._fields = next(csv.reader(handle), None)

    def write(self, **row: object) -> None:
        if self._fields is None:
            self._fields = list(row)
            with self.path.open("w", newline="") as handle:
                csv.writer(handle).writerow(self._fields)
        with self.path.open("a", newline="") as handle:
            csv.writer(handle).writerow([_format(row.get(f)) for f in self._fields])
        print("  ".join(f"{k}={_format(v)}" for k, v in row.items()), flush=True)


def _format(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def install(run_dir: Path, install_dir: Path | None, files: list[str]) -> None:
    """Copy a finished run's weights and records into the weights folder served from."""
    if not install_dir:
        return
    install_dir = Path(install_dir)
    install_dir.mkdir(parents=True, exist_ok=True)
    for name in files:
        if (Path(run_dir) / name).exists():
            shutil.copy2(Path(run_dir) / name, install_dir / name)
    print(f"installed into {install_dir}", flush=True)


def threads(count: int | None) -> None:
    if count:
        torch.set_num_threads(int(count))
        os.environ.setdefault("OMP_NUM_THREADS", str(count))
