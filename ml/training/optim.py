"""Optimiser, learning-rate schedule and class balance of a classifier's training run."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR, ReduceLROnPlateau

from ml.training.config import ClassifierConfig

Scheduler = LRScheduler | ReduceLROnPlateau


def create_optimiser(network: nn.Module, config: ClassifierConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def create_scheduler(optimiser: torch.optim.Optimizer, config: ClassifierConfig,
                     steps_per_epoch: int) -> Scheduler:
    """``onecycle`` steps once per optimiser step; ``plateau`` once per epoch, on the
    validation score (``scheduler_step_after_epoch``)."""
    if config.schedule == "onecycle":
        return OneCycleLR(optimiser, max_lr=config.lr, epochs=config.epochs,
                          steps_per_epoch=max(1, steps_per_epoch // config.accumulate))
    if config.schedule == "plateau":
        return ReduceLROnPlateau(optimiser, mode="max", factor=0.5,
                                 patience=config.plateau_patience)
    raise ValueError(f"unknown schedule {config.schedule!r}; one of onecycle, plateau")


def scheduler_step_after_update(scheduler: Scheduler) -> None:
    """After an optimiser step: a one-cycle schedule moves on, up to its last step."""
    if isinstance(scheduler, OneCycleLR) and scheduler.last_epoch + 1 < scheduler.total_steps:
        scheduler.step()


def scheduler_step_after_epoch(scheduler: Scheduler, validation_score: float) -> None:
    """After an epoch's validation: a plateau schedule lowers the rate when it stalls."""
    if isinstance(scheduler, ReduceLROnPlateau):
        scheduler.step(validation_score)


def class_counts(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Training images per class, at least 1 (so that weights stay finite)."""
    return torch.bincount(labels, minlength=num_classes).float().clamp(min=1)


def class_weights(counts: torch.Tensor, power: float) -> torch.Tensor:
    """Loss weights (n / n_class) ** power, scaled so that the average image weighs 1."""
    weights = (counts.sum() / counts) ** power
    return weights / (weights * counts).sum() * counts.sum()


def sampling_weights(labels: torch.Tensor, counts: torch.Tensor,
                     config: ClassifierConfig) -> torch.Tensor | None:
    """Each image's chance to be drawn with ``sampler: weighted`` (every class equally
    often), None for a plain shuffle."""
    return (1.0 / counts)[labels] if config.sampler == "weighted" else None
