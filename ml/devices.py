"""Where the models run: ML_DEVICE=auto (the default: the GPU when torch sees one, else the
CPU), cpu, cuda or cuda:N. A GPU worker needs nothing else; the web process never loads a
model."""

from __future__ import annotations

import os

import torch


def inference_device() -> torch.device:
    wanted = os.environ.get("ML_DEVICE", "auto").strip().lower() or "auto"
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(wanted)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"ML_DEVICE={wanted} but torch sees no CUDA device")
    return device


def ultralytics_device(device: torch.device) -> str:
    """The same device in ultralytics' spelling ("cpu", "0")."""
    if device.type == "cuda":
        return str(device.index or 0)
    return "cpu"
