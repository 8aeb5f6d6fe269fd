"""The typed config of a training run (see ``ml/configs``).

A YAML file, then ``key=value`` overrides (values parsed as YAML, so ``epochs=2`` is a
number), checked against the dataclass of the run's task: an unknown key, a missing one, a
value of the wrong type or outside its choices stops the run before any work, with a
message that names it. The resolved config, every default included, is saved as
``config.yaml`` beside the weights.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ml.augment import AugmentConfig
from ml.metadata import COLOUR_CONSTANCY_METHODS

CONFIG_FILE = "config.yaml"
THRESHOLD_RULE = re.compile(r"^(youden|sensitivity:(0(\.\d+)?|1(\.0+)?))$")


class ConfigError(ValueError):
    """The config cannot describe a run: a key is unknown, missing or has a bad value."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """What every training run needs."""

    task: str  # "classification", "segmentation" or "detection"
    name: str
    version: str
    run_dir: str
    data_dir: str
    architecture: str
    epochs: int
    batch_size: int
    install_dir: str | None = None  # where the finished model is copied to be served
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    bootstrap_samples: int = 1000  # for 95% intervals of the reported metrics
    max_images_per_split: int | None = None  # small runs: at most this many per split
    training_data: str = ""
    intended_use: str = ""
    limitations: str = ""

    def __post_init__(self) -> None:
        _require(CONFIG_TYPES.get(self.task) is type(self), "task",
                 f"one of {', '.join(CONFIG_TYPES)}, matching the config's kind")
        _require(self.epochs >= 1, "epochs", "at least 1")
        _require(self.batch_size >= 1, "batch_size", "at least 1")


@dataclass(frozen=True, kw_only=True)
class ClassifierConfig(TrainConfig):
    """An image or volume classifier trained by :mod:`ml.training.classifier`."""

    dataset: str  # a reader of ml.datasets
    input_size: list[int]  # [height, width], or [depth, height, width] for volumes
    gradcam_target_layer: str
    lr: float
    label_task: str = "pneumonia"  # chest_xray: pneumonia or pneumonia-type
    clahe: bool = False
    colour_constancy: str | None = None  # "shades_of_grey", or None: off
    colour_constancy_power: float = 6.0
    voxel_spacing: list[float] | None = None
    hu_window: list[float] | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    weight_decay: float = 0.0
    accumulate: int = 1  # batches per optimiser step
    schedule: str = "onecycle"  # or plateau (ReduceLROnPlateau on the validation score)
    plateau_patience: int = 3
    loss: str = "cross_entropy"  # or focal
    label_smoothing: float = 0.0
    focal_gamma: float = 2.0
    class_weight_power: float = 0.0  # class weights (n / n_class) ** power
    sampler: str = "none"  # or weighted (each class drawn equally often)
    bf16: bool = False
    early_stopping_patience: int | None = None
    resume: bool = False
    prior_correction: bool = False
    test_time_flips: bool = False
    threshold: str = "youden"  # two classes: youden or sensitivity:0.95
    kfold: int | None = None  # k-fold cross-validation instead of one training

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.schedule in ("onecycle", "plateau"), "schedule", "onecycle or plateau")
        _require(self.loss in ("cross_entropy", "focal"), "loss", "cross_entropy or focal")
        _require(self.sampler in ("none", "weighted"), "sampler", "none or weighted")
        _require(THRESHOLD_RULE.match(self.threshold) is not None, "threshold",
                 "youden or sensitivity:<a fraction>, e.g. sensitivity:0.95")
        _require(self.colour_constancy in (None, *COLOUR_CONSTANCY_METHODS), "colour_constancy",
                 f"one of {', '.join(COLOUR_CONSTANCY_METHODS)}, or absent")
        _require(self.colour_constancy_power > 0, "colour_constancy_power", "positive")
        _require(not (self.colour_constancy and self.hu_window), "colour_constancy",
                 "absent for a CT model (it applies to RGB images)")
        _require(self.accumulate >= 1, "accumulate", "at least 1")
        _require(self.kfold in (None, 0) or self.kfold >= 2, "kfold", "0 (off) or at least 2")


@dataclass(frozen=True, kw_only=True)
class YoloConfig(TrainConfig):
    """A YOLOv8 segmenter or detector, trained by ultralytics from its YAML."""

    imgsz: int
    workers: int = 2
    confidence: float = 0.25  # the served detection threshold
    patience: int = 100
    close_mosaic: int = 10
    yolo_options: dict[str, Any] = field(default_factory=dict)  # passed to ultralytics

    def __post_init__(self) -> None:
        super().__post_init__()
        taken = {"epochs", "imgsz", "batch", "workers", "device", "seed", "patience",
                 "close_mosaic", "data", "project", "name"} & set(self.yolo_options)
        _require(not taken, "yolo_options", f"free of {', '.join(sorted(taken))} (set as keys)")


CONFIG_TYPES: dict[str, type[TrainConfig]] = {
    "classification": ClassifierConfig, "segmentation": YoloConfig, "detection": YoloConfig,
}


def read_config(path: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """The config in the YAML file ``path`` with ``key=value`` overrides applied."""
    values = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError("a config is a mapping of keys to values")
    for item in overrides:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise ConfigError(f"override {item!r} is not key=value")
        values[key] = yaml.safe_load(value)
    return config_from_dict(values)


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """The typed config of ``values``; ``ConfigError`` names what is wrong."""
    task = values.get("task")
    if task not in CONFIG_TYPES:
        raise ConfigError(f"'task' must be one of {', '.join(CONFIG_TYPES)}, not {task!r}")
    kind = CONFIG_TYPES[task]
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) for a {task} config: {', '.join(unknown)}")
    missing = [name for name, f in fields.items() if name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"the config needs {', '.join(repr(m) for m in missing)}")
    hints = typing.get_type_hints(kind)
    return kind(**{key: _typed(key, value, hints[key]) for key, value in values.items()})


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Every key of the config, in YAML's plain types."""
    return _plain(dataclasses.asdict(config))


def save_config(config: TrainConfig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True))
    return path


def _typed(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the field's type: ints for floats and numbers for strings are taken (a
    version may be written 2 or 1.5); anything else of the wrong type is refused."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is AugmentConfig:
        try:
            return AugmentConfig.from_config(value)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"'{key}': {error}") from None
    if origin is list and isinstance(value, (list, tuple)):
        return [_typed(key, item, args[0]) for item in value]
    if origin is dict and isinstance(value, dict):
        return dict(value)
    return _scalar(key, value, hint)


def _scalar(key: str, value: Any, hint: Any) -> Any:
    """``value`` as a bool, float, str or int field's type (see ``_typed``)."""
    if isinstance(value, bool) or value is None:
        if hint is bool and isinstance(value, bool):
            return value
    elif hint is float and isinstance(value, (int, float)):
        return float(value)
    elif hint is str and isinstance(value, (str, int, float)):
        return str(value)
    elif hint is int and isinstance(value, int):
        return value
    raise ConfigError(f"'{key}' must be {_describe(hint)}, not {value!r}")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "a whole number", float: "a number",
            str: "text"}.get(hint, str(hint))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _require(condition: bool, key: str, expected: str) -> None:
    if not condition:
        raise ConfigError(f"'{key}' must be {expected}")
