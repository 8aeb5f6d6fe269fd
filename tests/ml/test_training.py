"""Each training path runs end to end, briefly, on a tiny data set the tests draw."""

import json

import pytest
import torch

from ml.evaluate import main as evaluate_main
from ml.metadata import ModelMetadata
from ml.train import main as train_main
from ml.training.config import ConfigError, read_config


def classifier_args(ham_folder, run_dir, install_dir):
    return ["ml/configs/skin-classifier.yaml", f"data_dir={ham_folder}", f"run_dir={run_dir}",
            f"install_dir={install_dir}", "epochs=1", "batch_size=8", "input_size=[24, 32]",
            "architecture=compact-resnet-tiny", "gradcam_target_layer=stages.1", "bf16=false"]


def test_overrides_are_parsed_as_yaml(tmp_path):
    config = read_config("ml/configs/skin-classifier.yaml", ["epochs=2", "input_size=[8, 8]"])
    assert config.epochs == 2 and config.input_size == [8, 8]
    with pytest.raises(ConfigError):
        read_config("ml/configs/skin-classifier.yaml", ["epochs"])


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


def pneumonia_args(config, chest_folder, run_dir, install_dir, *extra):
    return [f"ml/configs/{config}.yaml", f"data_dir={chest_folder}", f"run_dir={run_dir}",
            f"install_dir={install_dir}", "epochs=2", "batch_size=8", "input_size=[32, 32]",
            "architecture=compact-resnet-tiny", "gradcam_target_layer=stages.1", "bf16=false",
            "bootstrap_samples=20", *extra]


def test_pneumonia_training_stores_a_threshold_and_evaluates(chest_folder, tmp_path, capsys):
    weights = tmp_path / "weights"
    train_main(pneumonia_args("pneumonia", chest_folder, tmp_path / "run", weights / "pneumonia",
                              "loss=focal", "sampler=weighted", "threshold=sensitivity:0.95"))
    metadata = ModelMetadata.read(weights / "pneumonia")
    assert metadata.classes == ["normal", "pneumonia"] and metadata.clahe
    assert 0.0 <= metadata.thresholds["pneumonia"] <= 1.0
    test = metadata.metrics["test"]
    assert {"auc", "sensitivity", "specificity", "ece", "ci95"} <= set(test)
    assert test["ci95"]["auc"][0] <= test["auc"] <= test["ci95"]["auc"][1]

    capsys.readouterr()
    assert evaluate_main(["pneumonia", str(chest_folder), "--weights-dir", str(weights)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"accuracy", "auc", "sensitivity", "specificity", "balanced_accuracy", "ece"} <= set(result)
    assert result["n"] == 48 and result["threshold"] == metadata.thresholds["pneumonia"]


def test_pneumonia_type_training_with_a_plateau_schedule(chest_folder, tmp_path, capsys):
    weights = tmp_path / "weights"
    train_main(pneumonia_args("pneumonia-type", chest_folder, tmp_path / "run",
                              weights / "pneumonia-type", "schedule=plateau", "accumulate=2"))
    assert ModelMetadata.read(weights / "pneumonia-type").classes == ["normal", "bacterial", "viral"]
    capsys.readouterr()
    assert evaluate_main(["pneumonia-type", str(chest_folder), "--weights-dir", str(weights)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"accuracy", "balanced_accuracy", "macro_f1"} <= set(result)


def test_training_resumes_from_its_checkpoint(chest_folder, tmp_path, capsys):
    run = tmp_path / "run"
    train_main(pneumonia_args("pneumonia", chest_folder, run, "null", "epochs=1"))
    capsys.readouterr()
    train_main(pneumonia_args("pneumonia", chest_folder, run, "null", "epochs=2", "resume=true"))
    output = capsys.readouterr().out
    assert "resumed from epoch 1" in output
    log = (run / "train_log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2"]


def test_group_stratified_folds_keep_patients_together_and_spread_labels():
    from ml.datasets.common import LabelledImage
    from ml.training.kfold import group_stratified_folds

    items = [LabelledImage(f"{g}-{i}", g % 4 == 0, f"p{g}") for g in range(40) for i in range(2)]
    folds = group_stratified_folds(items, 5, seed=1)
    by_group = {}
    for item, fold in zip(items, folds, strict=True):
        assert by_group.setdefault(item.group, fold) == fold
    positives_per_fold = [sum(1 for i, f in zip(items, folds, strict=True) if f == k and i.label) for k in range(5)]
    assert positives_per_fold == [4, 4, 4, 4, 4]  # 10 positive patients, 2 images each


def test_cross_validation_summarises_the_folds(chest_folder, tmp_path):
    train_main(pneumonia_args("pneumonia", chest_folder, tmp_path / "cv", "null", "epochs=1",
                              "kfold=3"))
    summary = json.loads((tmp_path / "cv" / "cv_results.json").read_text())
    assert summary["folds"] == 3 and len(summary["per_fold"]) == 3
    assert set(summary["mean"]) >= {"auc", "accuracy"} and summary["std"]["auc"] >= 0
