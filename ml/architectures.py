"""Network architectures, registered by name in :mod:`ml.registry`."""

from __future__ import annotations

import torch
from torch import nn

from ml.registry import register


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


@register("compact-resnet")
def compact_resnet(num_classes: int, **kwargs) -> nn.Module:
    return CompactResNet(num_classes, **kwargs)


@register("compact-resnet-tiny")
def compact_resnet_tiny(num_classes: int, **kwargs) -> nn.Module:
    """A few thousand parameters: for tests that need real but throwaway weights."""
    return CompactResNet(num_classes, stages=(8, 16), stem_channels=8, **kwargs)


@register("resnet18")
def resnet18(num_classes: int, **kwargs) -> nn.Module:
    from torchvision.models import resnet18 as build

    return build(weights=None, num_classes=num_classes, **kwargs)


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


@register("cnn3d")
def cnn3d(num_classes: int, **kwargs) -> nn.Module:
    return CNN3D(num_classes, **kwargs)


@register("cnn3d-tiny")
def cnn3d_tiny(num_classes: int, **kwargs) -> nn.Module:
    """For tests only."""
    return CNN3D(num_classes, channels=(4, 8, 8), hidden=8, **kwargs)


@register("resnet3d-small")
def resnet3d_small(num_classes: int, **kwargs) -> nn.Module:
    return ResNet3DSmall(num_classes, **kwargs)


@register("resnet50")
def resnet50(num_classes: int, **kwargs) -> nn.Module:
    from torchvision.models import resnet50 as build

    return build(weights=None, num_classes=num_classes, **kwargs)


@register("densenet121")
def densenet121(num_classes: int, **kwargs) -> nn.Module:
    from torchvision.models import densenet121 as build

    return build(weights=None, num_classes=num_classes, **kwargs)


@register("efficientnet-b0")
def efficientnet_b0(num_classes: int, **kwargs) -> nn.Module:
    from torchvision.models import efficientnet_b0 as build

    return build(weights=None, num_classes=num_classes, **kwargs)
