"""Each training path runs end to end, briefly, on a tiny data set the tests draw."""

import json

import pytest
import torch

from ml.evaluate import main as evaluate_main
from ml.metadata import ModelMetadata
from ml.train import main as train_main
from ml.train import resolve_config


def classifier_args(ham_folder, run_dir, install_dir):
    return ["ml/configs/skin-classifier.yaml", f"data_dir={ham_folder}", f"run_dir={run_dir}",
            f"install_dir={install_dir}", "epochs=1", "batch_size=8", "input_size=[24, 32]",
            "architecture=compact-resnet-tiny", "gradcam_target_layer=stages.1", "bf16=false"]


def test_overrides_are_parsed_as_yaml(tmp_path):
    config = resolve_config("ml/configs/skin-classifier.yaml", ["epochs=2", "input_size=[8, 8]"])
    assert config["epochs"] == 2 and config["input_size"] == [8, 8]
    with pytest.raises(SystemExit):
        resolve_config("ml/configs/skin-classifier.yaml", ["epochs"])


def test_classifier_training_installs_weights_metadata_and_config(ham_folder, tmp_path, capsys):
    install_dir = tmp_path / "weights" / "skin-classifier"
    train_main(classifier_args(ham_folder, tmp_path / "run", install_dir))
    metadata = ModelMetadata.read(install_dir)
    assert metadata.classes == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert metadata.input_size == [24, 32] and len(metadata.mean) == 3
    assert set(metadata.metrics) >= {"val", "test", "best_epoch"}
    assert (install_dir / "config.yaml").read_text().count("epochs: 1") == 1
    assert (install_dir / "train_log.csv").read_text().startswith("epoch,loss")

    capsys.readouterr()
    code = evaluate_main(["skin-classifier", str(ham_folder), "--weights-dir",
                          str(tmp_path / "weights")])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"accuracy", "balanced_accuracy", "macro_f1", "recall"} <= set(result)
    assert result["n"] == 56 and set(result["recall"]) == set(metadata.classes)


def test_classifier_training_is_deterministic_with_a_seed(ham_folder, tmp_path):
    for run in ("a", "b"):
        train_main(classifier_args(ham_folder, tmp_path / run, "null"))
    first = torch.load(tmp_path / "a" / "model.pt")
    second = torch.load(tmp_path / "b" / "model.pt")
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_segmenter_training_and_evaluation(ham_folder, tmp_path, capsys):
    install_dir = tmp_path / "weights" / "skin-segmenter"
    train_main(["ml/configs/skin-segmenter.yaml", f"data_dir={ham_folder}",
                f"run_dir={tmp_path / 'run'}", f"install_dir={install_dir}", "epochs=1",
                "imgsz=64", "batch_size=8", "workers=0"])
    metadata = ModelMetadata.read(install_dir)
    assert metadata.task == "segmentation" and metadata.classes == ["lesion"]
    assert {"mean_iou", "mean_dice", "thresholded_iou"} <= set(metadata.metrics["test"])
    labels = sorted((tmp_path / "run" / "dataset" / "labels" / "train").glob("*.txt"))
    first_label = labels[0].read_text().split()
    assert first_label[0] == "0" and len(first_label) >= 7  # class and three or more points

    capsys.readouterr()
    code = evaluate_main(["skin-segmenter", str(ham_folder), "--weights-dir",
                          str(tmp_path / "weights")])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 56
    assert 0.0 <= result["thresholded_iou"] <= result["mean_iou"] <= 1.0


def test_evaluate_reports_a_missing_model(ham_folder, tmp_path, capsys):
    assert evaluate_main(["skin-classifier", str(ham_folder), "--weights-dir", str(tmp_path)]) == 2
    assert "model not installed" in capsys.readouterr().err
