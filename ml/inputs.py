"""How a batch of model inputs is made from labelled files: 2D images or CT volumes.

Training and evaluation load a split once into one tensor, then cut batches from it; the
same code makes the batches in both, with augmentation only when training passes a random
generator.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ml.augment import AugmentConfig, augment
from ml.datasets import lidc
from ml.datasets.common import LabelledImage, load_images
from ml.dicom import read_series_folder
from ml.metadata import ModelMetadata
from ml.preprocessing import normalise
from ml.volumes import Volume, prepare_volume


class ImageInputs:
    """Photographs and radiographs: uint8 NxHxWx3 in memory, normalised NxCxHxW batches."""

    memory_format = torch.channels_last

    def __init__(self, metadata: ModelMetadata, augmentation: AugmentConfig | None = None):
        self.metadata = metadata
        self.augmentation = augmentation or AugmentConfig()

    def load(self, items: list[LabelledImage]) -> torch.Tensor:
        return torch.from_numpy(load_images([item.path for item in items], self.metadata))

    def fit_normalisation(self, train: torch.Tensor) -> None:
        unit = train.float().div(255.0)
        self.metadata.mean = unit.mean(dim=(0, 1, 2)).tolist()
        self.metadata.std = unit.std(dim=(0, 1, 2)).tolist()

    def batch(self, stored: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None:
            return normalise(stored, self.metadata)
        unit = stored.permute(0, 3, 1, 2).float().div_(255.0)
        return normalise(augment(unit, generator, self.augmentation), self.metadata)


class VolumeInputs:
    """CT volumes: windowed float NxDxHxW in memory, Nx1xDxHxW batches. Training flips the
    volume along each axis and adds mild noise (a nodule has no orientation)."""

    memory_format = torch.contiguous_format

    def __init__(self, metadata: ModelMetadata, augmentation: AugmentConfig | None = None):
        self.metadata = metadata
        self.augmentation = augmentation or AugmentConfig()

    def load(self, items: list[LabelledImage]) -> torch.Tensor:
        arrays = [torch.from_numpy(prepare_volume(read_volume(item.path), self.metadata))
                  for item in items]
        if not arrays:
            return torch.zeros((0, *self.metadata.input_size))
        return torch.stack(arrays)

    def fit_normalisation(self, train: torch.Tensor) -> None:
        self.metadata.mean, self.metadata.std = [0.0], [1.0]  # the HU window already scales

    def batch(self, stored: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        volumes = stored.unsqueeze(1).float()
        if generator is None:
            return volumes
        config = self.augmentation
        for axis, enabled in ((2, config.flip_vertical), (3, config.flip_vertical),
                              (4, config.flip_horizontal)):
            if enabled:
                chosen = torch.rand(len(volumes), generator=generator) < 0.5
                volumes[chosen] = volumes[chosen].flip(axis)
        if config.noise:
            noise = torch.randn(volumes.shape, generator=generator) * config.noise
            volumes = (volumes + noise).clamp_(0, 1)
        return volumes


def read_volume(path: Path) -> Volume:
    """A NIfTI file or a folder holding one DICOM series."""
    if path.is_dir():
        return read_series_folder(path)
    return lidc.read_volume(path)


def inputs_for(metadata: ModelMetadata,
               augmentation: AugmentConfig | None = None) -> ImageInputs | VolumeInputs:
    """Volume inputs for a model with an HU window, image inputs otherwise."""
    if metadata.hu_window is not None:
        return VolumeInputs(metadata, augmentation)
    return ImageInputs(metadata, augmentation)
