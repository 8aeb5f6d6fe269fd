"""Batched training augmentations for medical images, on [0,1] NxCxHxW tensors.

What is allowed depends on the images, so every transform is switched and sized by the
training config: dermoscopy has no canonical orientation (any rotation, both flips), while a
chest X-ray allows only small rotations and shifts and never a flip (the heart is on the
left). Scale and colour changes stay mild so that size and colour, which carry diagnoses,
are not distorted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 0.0
    flip_horizontal: bool = False
    flip_vertical: bool = False
    scale: tuple[float, float] = (1.0, 1.0)
    shift: float = 0.0  # fraction of the image size
    colour: float = 0.0  # brightness, contrast and saturation jitter
    noise: float = 0.0  # standard deviation of added Gaussian noise

    @classmethod
    def from_config(cls, values: dict | None) -> AugmentConfig:
        values = dict(values or {})
        if "scale" in values:
            values["scale"] = tuple(values["scale"])
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown augmentation option(s): {', '.join(sorted(unknown))}")
        return cls(**values)


def random_affine(batch: torch.Tensor, generator: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    n = batch.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(config.rotation_deg)
    factor = torch.empty(n).uniform_(*config.scale, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * config.shift * 2

    def flips(enabled: bool) -> torch.Tensor:
        if not enabled:
            return torch.ones(n)
        return torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)

    flip_x, flip_y = flips(config.flip_horizontal), flips(config.flip_vertical)
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack([
        torch.stack([cos * flip_x, -sin * flip_y, shift[:, 0]], dim=1),
        torch.stack([sin * flip_x, cos * flip_y, shift[:, 1]], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def random_colour(batch: torch.Tensor, generator: torch.Generator, strength: float) -> torch.Tensor:
    n = batch.shape[0]

    def factors():
        return 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * strength

    batch = batch * factors()
    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    batch = (batch - mean) * factors() + mean
    grey = batch.mean(dim=1, keepdim=True)
    batch = (batch - grey) * factors() + grey
    return batch.clamp_(0, 1)


def augment(batch_unit: torch.Tensor, generator: torch.Generator,
            config: AugmentConfig) -> torch.Tensor:
    """[0,1] NxCxHxW in, augmented [0,1] NxCxHxW out."""
    if config.rotation_deg or config.flip_horizontal or config.flip_vertical \
            or config.scale != (1.0, 1.0) or config.shift:
        batch_unit = random_affine(batch_unit, generator, config)
    if config.colour:
        batch_unit = random_colour(batch_unit, generator, config.colour)
    if config.noise:
        noise = torch.randn(batch_unit.shape, generator=generator) * config.noise
        batch_unit = (batch_unit + noise).clamp_(0, 1)
    return batch_unit
