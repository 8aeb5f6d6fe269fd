"""torchvision's ImageNet architectures, untrained, with the project's number of classes."""

from __future__ import annotations

from typing import Any

from torch import nn
from torchvision import models

from ml.models._registry import register_model


@register_model("resnet18")
def resnet18(num_classes: int, **kwargs: Any) -> nn.Module:
    return models.resnet18(weights=None, num_classes=num_classes, **kwargs)


@register_model("resnet50")
def resnet50(num_classes: int, **kwargs: Any) -> nn.Module:
    return models.resnet50(weights=None, num_classes=num_classes, **kwargs)


@register_model("densenet121")
def densenet121(num_classes: int, **kwargs: Any) -> nn.Module:
    return models.densenet121(weights=None, num_classes=num_classes, **kwargs)


@register_model("efficientnet-b0")
def efficientnet_b0(num_classes: int, **kwargs: Any) -> nn.Module:
    return models.efficientnet_b0(weights=None, num_classes=num_classes, **kwargs)
