"""Train a model: ``python -m ml.train CONFIG.yaml [key=value ...]``.

The config is YAML (see ``ml/configs``), checked against its task's typed config
(:mod:`ml.training.config`); ``key=value`` pairs override it (values are parsed as YAML, so
``epochs=2`` is a number). ``kfold=5`` runs stratified 5-fold cross-validation by patient on
the train and val splits instead of one training. The resolved config is saved as
``config.yaml`` in the run folder, beside the weights.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ml.training import classifier, detector, segmenter
from ml.training.config import CONFIG_FILE, ClassifierConfig, ConfigError, TrainConfig, read_config, save_config
from ml.training.kfold import cross_validate

TRAINERS: dict[str, Callable[..., object]] = {
    "classification": classifier.train,
    "segmentation": segmenter.train,
    "detection": detector.train,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("overrides", nargs="*", help="key=value pairs overriding the config")
    args = parser.parse_args(argv)
    try:
        config = read_config(args.config, args.overrides)
    except ConfigError as error:
        raise SystemExit(f"{args.config}: {error}") from None
    run(config)


def run(config: TrainConfig) -> None:
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)
    if isinstance(config, ClassifierConfig) and config.kfold:
        cross_validate(config, run_dir)
    else:
        TRAINERS[config.task](config, run_dir)


if __name__ == "__main__":
    main()
