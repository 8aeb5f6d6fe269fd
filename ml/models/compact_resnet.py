"""CompactResNet: a narrow 2D ResNet for small inputs, trainable from scratch on a CPU."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ml.models._registry import register_model


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CompactResNet(nn.Module):
    """A narrow ResNet for small inputs, trainable from scratch on a CPU.

    ``stages`` lists the output channels of each stage; each stage halves the resolution.
    Grad-CAM targets ``stages.<last>``, the last spatial feature map.
    """

    def __init__(self, num_classes: int, stages=(32, 64, 128, 256), blocks_per_stage: int = 2,
                 stem_channels: int = 24, dropout: float = 0.2):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
        )
        layers = []
        in_channels = stem_channels
        for channels in stages:
            blocks = [BasicBlock(in_channels, channels, stride=2)]
            blocks += [BasicBlock(channels, channels) for _ in range(blocks_per_stage - 1)]
            layers.append(nn.Sequential(*blocks))
            in_channels = channels
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        for module in self.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)  # each block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


@register_model("compact-resnet")
def compact_resnet(num_classes: int, **kwargs: Any) -> nn.Module:
    return CompactResNet(num_classes, **kwargs)


@register_model("compact-resnet-tiny")
def compact_resnet_tiny(num_classes: int, **kwargs: Any) -> nn.Module:
    """A few thousand parameters: for tests that need real but throwaway weights."""
    return CompactResNet(num_classes, stages=(8, 16), stem_channels=8, **kwargs)
