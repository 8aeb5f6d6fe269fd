"""CT volume transforms shared by training, evaluation and serving, driven by metadata.

A volume is a float array in Hounsfield units, ordered (z, y, x), with its voxel spacing in
millimetres. Models see it resampled to one spacing, cropped or padded around its centre to
a fixed shape, and windowed to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ml.metadata import ModelMetadata

AIR_HU = -1000.0


@dataclass
class Volume:
    hu: np.ndarray  # float32 (z, y, x)
    spacing: tuple[float, float, float]  # mm (z, y, x)


def resample(volume: Volume, spacing: Sequence[float]) -> np.ndarray:
    """Trilinear resampling to ``spacing`` (mm, z y x)."""
    factors = [s / t for s, t in zip(volume.spacing, spacing, strict=True)]
    shape = [max(1, round(n * f)) for n, f in zip(volume.hu.shape, factors, strict=True)]
    tensor = torch.from_numpy(np.ascontiguousarray(volume.hu, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=shape, mode="trilinear", align_corners=False)[0, 0].numpy()


def centre_fit(array: np.ndarray, shape: Sequence[int], fill: float = AIR_HU) -> np.ndarray:
    """Crop or pad (with air) each axis around the centre to ``shape``."""
    out = np.full(shape, fill, dtype=np.float32)
    source, target = [], []
    for have, want in zip(array.shape, shape, strict=True):
        if have >= want:
            start = (have - want) // 2
            source.append(slice(start, start + want))
            target.append(slice(0, want))
        else:
            start = (want - have) // 2
            source.append(slice(0, have))
            target.append(slice(start, start + have))
    out[tuple(target)] = array[tuple(source)]
    return out


def window(hu: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((hu - low) / (high - low), 0.0, 1.0).astype(np.float32)


def resize(volume: Volume, shape: Sequence[int]) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(volume.hu, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=list(shape), mode="trilinear", align_corners=False)[0, 0].numpy()


def crop_around(array: np.ndarray, centre: Sequence[int], shape: Sequence[int],
                fill: float = AIR_HU) -> np.ndarray:
    """The box of ``shape`` whose middle voxel (index ``size // 2`` on each axis) is
    ``centre``; the parts outside ``array`` are ``fill`` (air)."""
    out = np.full(shape, fill, dtype=np.float32)
    source, target = [], []
    for middle, have, want in zip(centre, array.shape, shape, strict=True):
        start = int(middle) - want // 2
        low, high = max(start, 0), min(start + want, have)
        if high <= low:
            return out
        source.append(slice(low, high))
        target.append(slice(low - start, high - start))
    out[tuple(target)] = array[tuple(source)]
    return out


def fit_volume(volume: Volume, metadata: ModelMetadata) -> np.ndarray:
    """A volume on the model's input grid, still in HU. With a voxel spacing in the metadata
    it is resampled to it and centred in the input shape (a nodule's size in mm is kept);
    without one the whole volume is resized to the input shape (a whole-chest model)."""
    if metadata.voxel_spacing:
        return centre_fit(resample(volume, metadata.voxel_spacing), metadata.input_size)
    return resize(volume, metadata.input_size)


def prepare_volume(volume: Volume, metadata: ModelMetadata) -> np.ndarray:
    """A volume as the model's input: fitted to its grid (``fit_volume``), then windowed."""
    return window(fit_volume(volume, metadata), *metadata.hu_window)


def volume_to_input(volume: Volume, metadata: ModelMetadata) -> torch.Tensor:
    """One volume as the model's 1x1xDxHxW input."""
    return torch.from_numpy(prepare_volume(volume, metadata))[None, None]
