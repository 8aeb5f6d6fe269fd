"""The typed training config: every shipped config loads, mistakes stop the run loudly, and the
resolved config saved beside the weights reads back the same."""

from pathlib import Path

import pytest

from ml.augment import AugmentConfig
from ml.train import main as train_main
from ml.training.config import ClassifierConfig, ConfigError, YoloConfig, read_config, save_config

CONFIGS = sorted(Path("ml/configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_loads_and_round_trips(path, tmp_path):
    config = read_config(path)
    assert isinstance(config, YoloConfig if config.task in ("segmentation", "detection")
                      else ClassifierConfig)
    assert read_config(save_config(config, tmp_path / "config.yaml")) == config


def test_values_take_their_types():
    config = read_config("ml/configs/skin-classifier.yaml", ["lr=1", "version=2", "install_dir=null"])
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.version == "2" and config.install_dir is None
    assert config.augment == AugmentConfig(rotation_deg=180, flip_horizontal=True,
                                           flip_vertical=True, scale=(0.9, 1.15), shift=0.08,
                                           colour=0.12)


@pytest.mark.parametrize(("override", "message"), [
    ("epoch=3", "unknown key.*epoch"),
    ("imgsz=64", "unknown key.*imgsz"),  # a YOLO key in a classifier's config
    ("epochs=many", "'epochs' must be a whole number"),
    ("bf16=1", "'bf16' must be true or false"),
    ("input_size=[1.5, 2]", "'input_size' must be a whole number"),
    ("schedule=cosine", "'schedule' must be onecycle or plateau"),
    ("threshold=youdan", "'threshold' must be"),
    ("augment={spin: 1}", "unknown augmentation option"),
    ("colour_constancy=grey_world", "'colour_constancy' must be one of shades_of_grey"),
    ("colour_constancy_power=0", "'colour_constancy_power' must be positive"),
    ("kfold=1", "'kfold' must be"),
    ("task=regression", "'task' must be one of"),
])
def test_mistakes_are_refused_with_the_key_named(override, message):
    with pytest.raises(ConfigError, match=message):
        read_config("ml/configs/skin-classifier.yaml", [override])


def test_a_missing_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: detection\nname: boxes\nversion: '1'\nrun_dir: runs/x\n")
    with pytest.raises(ConfigError, match="needs 'data_dir', 'architecture', 'epochs'"):
        read_config(path)


def test_yolo_options_cannot_shadow_config_keys():
    with pytest.raises(ConfigError, match="yolo_options"):
        read_config("ml/configs/skin-segmenter.yaml", ["yolo_options={epochs: 3}"])


def test_colour_constancy_keys_are_read():
    config = read_config("ml/configs/skin-classifier.yaml",
                         ["colour_constancy=shades_of_grey", "colour_constancy_power=6"])
    assert config.colour_constancy == "shades_of_grey" and config.colour_constancy_power == 6.0
    with pytest.raises(ConfigError, match="CT model"):
        read_config("ml/configs/nodule-malignancy.yaml", ["colour_constancy=shades_of_grey"])


def test_the_command_line_stops_before_any_work_on_a_bad_key(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown key.*epoch"):
        train_main(["ml/configs/skin-classifier.yaml", f"run_dir={tmp_path / 'run'}", "epoch=1"])
    assert not (tmp_path / "run").exists()
