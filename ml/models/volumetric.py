"""3D classifiers for CT volumes: CNN3D (the Service4CT shape) and a small 3D ResNet."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ml.models._registry import register_model


class CNN3D(nn.Module):
    """The Service4CT volume classifier's shape: three conv-BN-pool blocks, dropout and two
    dense layers. Grad-CAM targets ``features.2`` (the last block)."""

    def __init__(self, num_classes: int, channels=(16, 32, 64), hidden: int = 64,
                 dropout: float = 0.3):
        super().__init__()
        blocks, in_channels = [], 1
        for out_channels in channels:
            blocks.append(nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm3d(out_channels), nn.ReLU(inplace=True), nn.MaxPool3d(2)))
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(in_channels, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


class BasicBlock3D(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm3d(out_channels), nn.ReLU(inplace=True),
            nn.Conv3d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm3d(out_channels))
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv3d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm3d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet3DSmall(nn.Module):
    """A small 3D ResNet: a stem and three residual stages. Grad-CAM targets ``stages.2``."""

    def __init__(self, num_classes: int, stages=(16, 32, 64), dropout: float = 0.3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(1, stages[0], 3, padding=1, bias=False),
                                  nn.BatchNorm3d(stages[0]), nn.ReLU(inplace=True))
        layers, in_channels = [], stages[0]
        for index, channels in enumerate(stages):
            layers.append(BasicBlock3D(in_channels, channels, stride=1 if index == 0 else 2))
            in_channels = channels
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(in_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


@register_model("cnn3d")
def cnn3d(num_classes: int, **kwargs: Any) -> nn.Module:
    return CNN3D(num_classes, **kwargs)


@register_model("cnn3d-tiny")
def cnn3d_tiny(num_classes: int, **kwargs: Any) -> nn.Module:
    """For tests only."""
    return CNN3D(num_classes, channels=(4, 8, 8), hidden=8, **kwargs)


@register_model("resnet3d-small")
def resnet3d_small(num_classes: int, **kwargs: Any) -> nn.Module:
    return ResNet3DSmall(num_classes, **kwargs)
