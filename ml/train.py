"""Train a model: ``python -m ml.train CONFIG.yaml [key=value ...]``.

The config is YAML (see ``ml/configs``); ``key=value`` pairs override it (values are parsed
as YAML, so ``epochs=2`` is a number). ``kfold=5`` runs stratified 5-fold cross-validation by
patient on the train and val splits instead of one training. The resolved config is saved as ``config.yaml`` in the
run folder, beside the weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def resolve_config(path: Path, overrides: list[str]) -> dict:
    config = yaml.safe_load(Path(path).read_text()) or {}
    for item in overrides:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise SystemExit(f"override {item!r} is not key=value")
        config[key] = yaml.safe_load(value)
    for key in ("task", "name", "run_dir"):
        if key not in config:
            raise SystemExit(f"{path}: the config needs a {key!r} entry")
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("overrides", nargs="*", help="key=value pairs overriding the config")
    args = parser.parse_args(argv)
    config = resolve_config(args.config, args.overrides)
    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    if config["task"] == "classification" and config.get("kfold"):
        from ml.training.kfold import cross_validate as train
    elif config["task"] == "classification":
        from ml.training.classifier import train
    elif config["task"] == "segmentation":
        from ml.training.segmenter import train
    elif config["task"] == "detection":
        from ml.training.detector import train
    else:
        raise SystemExit(f"unknown task {config['task']!r}")
    train(config, run_dir)


if __name__ == "__main__":
    main()
