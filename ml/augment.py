"""Batched training augmentations for photographs of the skin, on normalised NxCxHxW tensors.

Dermoscopy has no canonical orientation, so flips in both axes and any rotation are allowed;
scale and colour changes stay mild so that the lesion's size and colour, which carry the
diagnosis, are not distorted.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(batch: torch.Tensor, generator: torch.Generator, max_rotation_deg=180.0,
                  scale=(0.9, 1.15), max_shift=0.08) -> torch.Tensor:
    n = batch.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_rotation_deg)
    factor = torch.empty(n).uniform_(*scale, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_shift * 2
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack([
        torch.stack([cos * flip, -sin, shift[:, 0]], dim=1),
        torch.stack([sin * flip, cos, shift[:, 1]], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def random_colour(batch: torch.Tensor, generator: torch.Generator, strength=0.12) -> torch.Tensor:
    """Brightness, contrast and saturation jitter (on [0,1] images)."""
    n = batch.shape[0]

    def factors():
        return 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * strength

    batch = batch * factors()
    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    batch = (batch - mean) * factors() + mean
    grey = batch.mean(dim=1, keepdim=True)
    batch = (batch - grey) * factors() + grey
    return batch.clamp_(0, 1)


def augment(batch_unit: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """[0,1] NxCxHxW in, augmented [0,1] NxCxHxW out."""
    return random_colour(random_affine(batch_unit, generator), generator)
