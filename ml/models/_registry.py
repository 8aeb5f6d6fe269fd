"""The architecture registry: builders by name. It imports no model file; each model module
registers its builders with ``register_model``, and ``ml.models`` imports them all.

``create_model(name, num_classes=...)`` builds an untrained network, for training and tests;
serving loads installed weights through :mod:`ml.installed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

ModelBuilder = Callable[..., nn.Module]

_model_builders: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register the decorated builder under ``name`` (the ``architecture`` of metadata and
    configs)."""

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _model_builders:
            raise ValueError(f"architecture {name!r} is registered twice")
        _model_builders[name] = builder
        return builder

    return decorator


def architectures() -> list[str]:
    return sorted(_model_builders)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    try:
        builder = _model_builders[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(architectures())}") from None
    return builder(**kwargs)
