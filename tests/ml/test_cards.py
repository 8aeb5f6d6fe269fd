"""Evaluation plots and model cards: drawn from probabilities and metadata, and end to end."""

import json

import numpy as np
import pytest
from PIL import Image

from ml.cards import CARD_FILE, model_card, write_model_card
from ml.cards import main as cards_main
from ml.metadata import ModelMetadata
from ml.metrics import expected_calibration_error
from ml.plots import calibration_bins, predicted_labels, save_plots
from ml.train import main as train_main
from tests.ml.conftest import make_chest_xray_folder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synthetic(classes: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Labels and softmax probabilities that are informative but not perfect."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes))
    logits[np.arange(n), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, labels


@pytest.mark.parametrize("classes", [["normal", "pneumonia"], ["normal", "bacterial", "viral"]])
def test_plots_are_small_readable_pngs(tmp_path, classes):
    probabilities, labels = synthetic(len(classes))
    paths = save_plots(tmp_path, probabilities, labels, classes, threshold=0.4, split="val")
    assert sorted(p.name for p in paths) == ["calibration_val.png", "confusion_val.png",
                                             "roc_val.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert 5_000 < path.stat().st_size < 150_000
        with Image.open(path) as image:
            assert 350 <= image.width <= 800 and 350 <= image.height <= 800
            assert np.asarray(image.convert("L")).std() > 10  # something is drawn


def test_two_classes_are_decided_at_the_threshold_more_by_the_most_probable():
    probabilities, _ = synthetic(2)
    at_threshold = predicted_labels(probabilities, 0.8)
    assert np.array_equal(at_threshold, probabilities[:, 1] >= 0.8)
    assert not np.array_equal(at_threshold, probabilities.argmax(axis=1))
    probabilities, _ = synthetic(3)
    assert np.array_equal(predicted_labels(probabilities, None), probabilities.argmax(axis=1))


def test_calibration_bins_are_those_of_the_expected_calibration_error():
    probabilities, labels = synthetic(3)
    means, accuracies, counts = calibration_bins(probabilities, labels)
    assert counts.sum() == len(labels)
    filled = counts > 0
    error = (counts[filled] / len(labels) * np.abs(accuracies[filled] - means[filled])).sum()
    assert error == pytest.approx(expected_calibration_error(labels, probabilities))


def metadata_with(metrics: dict, **fields) -> ModelMetadata:
    values = {"name": "pneumonia", "version": "2.1.0", "task": "classification",
              "architecture": "compact-resnet", "weights_file": "model.pt",
              "classes": ["normal", "pneumonia"], "input_size": [160, 160], "clahe": True,
              "thresholds": {"pneumonia": 0.42}, "training_data": "Kermany chest X-rays",
              "split": "patient-disjoint", "metrics": metrics,
              "intended_use": "Orders a radiologist's worklist by the probability of pneumonia.",
              "limitations": "Children aged one to five from one centre.",
              "trained_on": "NVIDIA H100 (CUDA)", "created": "2026-11-22T04:08:00+00:00"}
    values.update(fields)
    return ModelMetadata(**values)


BINARY_TEST = {"n": 624, "threshold": 0.42, "accuracy": 0.9, "auc": 0.951, "gini": 0.902,
               "sensitivity": 0.95, "specificity": 0.81, "precision": 0.88, "f1": 0.91,
               "balanced_accuracy": 0.88, "ece": 0.04, "confusion_matrix": [[190, 44], [20, 370]],
               "ci95": {"auc": [0.932, 0.967], "gini": [-0.1, 0.934]}}


def test_a_binary_card_states_its_numbers_threshold_and_use(tmp_path):
    val = {**BINARY_TEST, "n": 500, "auc": float("nan")}
    metadata = metadata_with({"val": val, "test": BINARY_TEST, "best_epoch": 12,
                              "training_seconds": 2922})
    (tmp_path / "roc_test.png").write_bytes(PNG_SIGNATURE)
    card = write_model_card(tmp_path, metadata).read_text()
    assert card.startswith("# pneumonia 2.1.0")
    assert "not a diagnosis" in card
    assert "| ROC AUC | – | 0.951 (0.932–0.967) |" in card
    assert "| Gini (2 AUC − 1) | 0.902 (−0.100–0.934) | 0.902 (−0.100–0.934) |" in card
    assert "| Precision (PPV) | 0.880 | 0.880 |" in card
    assert "pneumonia when its probability ≥ 0.420" in card
    assert "CLAHE" in card and "160×160" in card
    assert metadata.intended_use in card and metadata.limitations in card
    assert "| **pneumonia** | 20 | 370 |" in card
    assert "48 min (2922 s)" in card and "NVIDIA H100 (CUDA)" in card and "2026-11-22" in card
    assert "(roc_test.png)" in card and "calibration_test.png" not in card


def test_a_multiclass_card_has_per_class_recall_and_argmax_rule(tmp_path):
    classes = ["akiec", "bcc", "mel"]
    test = {"n": 30, "accuracy": 0.8, "balanced_accuracy": 0.7, "macro_f1": 0.65,
            "recall": {"akiec": 0.5, "bcc": 0.75}, "precision": {"akiec": 0.4, "bcc": 0.6,
                                                                 "mel": 0.0},
            "support": {"akiec": 10, "bcc": 20, "mel": 0},
            "confusion_matrix": [[5, 5, 0], [5, 15, 0], [0, 0, 0]],
            "ci95": {"accuracy": [0.7, 0.9]}}
    metadata = metadata_with({"test": test}, classes=classes, thresholds={}, clahe=False,
                             logit_bias=[0.1, 0.0, -0.2])
    card = write_model_card(tmp_path, metadata).read_text()
    assert "| Accuracy | 0.800 (0.700–0.900) |" in card
    assert "| Balanced accuracy | 0.700 |" in card
    assert "| akiec | 0.500 | 0.400 | 10 |" in card
    assert "| mel | – | 0.000 | 0 |" in card
    assert "most probable class after prior correction" in card
    assert "CLAHE" not in card


def test_a_segmenter_card_renders_without_plots_or_classes_tables(tmp_path):
    metrics = {"val": {"n": 1315, "mean_iou": 0.8526, "mean_dice": 0.9068,
                       "thresholded_iou": 0.8282},
               "test": {"n": 1224, "mean_iou": 0.8565, "mean_dice": 0.911,
                        "thresholded_iou": 0.8282},
               "training_seconds": 3678}
    metadata = metadata_with(metrics, name="skin-segmenter", version="1.0.0",
                             task="segmentation", architecture="yolov8n-seg.yaml",
                             classes=["lesion"], thresholds={"confidence": 0.25})
    card = write_model_card(tmp_path, metadata).read_text()
    assert card.startswith("# skin-segmenter 1.0.0")
    assert "| Mean IoU | 0.853 | 0.857 |" in card and "| n | 1315 | 1224 |" in card
    assert "confidence ≥ 0.25" in card and "1 h 1 min (3678 s)" in card
    assert "not a diagnosis" in card
    assert "Confusion" not in card and "Per class" not in card and "## Plots" not in card


def test_a_detector_card_lists_its_own_metrics(tmp_path):
    metadata = metadata_with({"test": {"map50": 0.41, "map50_95": 0.18, "recall_at_1": 0.5}},
                             name="pneumonia-boxes", task="detection", classes=["opacity"],
                             thresholds={"confidence": 0.25})
    card = write_model_card(tmp_path, metadata).read_text()
    assert "| mAP at IoU 0.5 | 0.410 |" in card and "| recall_at_1 | 0.500 |" in card
    assert "boxes found with confidence ≥ 0.25" in card


def test_a_volume_card_states_the_voxel_spacing_and_hu_window(tmp_path):
    metadata = metadata_with({"test": BINARY_TEST}, name="nodule-malignancy",
                             classes=["benign", "malignant"], thresholds={"malignant": 0.123},
                             input_size=[16, 32, 32], voxel_spacing=[1.5, 1.0, 1.0],
                             hu_window=[-1000, 400], mean=[0.0], std=[1.0], clahe=False)
    card = write_model_card(tmp_path, metadata).read_text()
    assert "resampled to 1.5×1×1 mm voxels (z, y, x)" in card and "16×32×32 voxels" in card
    assert "Hounsfield units −1000 to 400 mapped to [0, 1]" in card
    assert "normalised" not in card and "RGB" not in card
    assert "malignant when its probability ≥ 0.123" in card


def trained_pneumonia(tmp_path, chest_folder):
    """A tiny pneumonia model trained without intervals, installed under tmp_path/weights,
    with the card and plots that training wrote taken away (as for a model installed by
    hand) so that the CLI's own output can be checked."""
    weights = tmp_path / "weights"
    train_main(["ml/configs/pneumonia.yaml", f"data_dir={chest_folder}",
                f"run_dir={tmp_path / 'run'}", f"install_dir={weights / 'pneumonia'}", "epochs=2",
                "batch_size=8", "input_size=[32, 32]", "architecture=compact-resnet-tiny",
                "gradcam_target_layer=stages.1", "bf16=false", "bootstrap_samples=0"])
    installed = weights / "pneumonia"
    assert (installed / CARD_FILE).is_file() and (installed / "roc_val.png").is_file()
    for path in [installed / CARD_FILE, *installed.glob("*.png")]:
        path.unlink()
    return weights


def test_the_cli_draws_plots_adds_intervals_and_writes_the_card(chest_folder, tmp_path, capsys):
    weights = trained_pneumonia(tmp_path, chest_folder)
    directory = weights / "pneumonia"
    assert "ci95" not in ModelMetadata.read(directory).metrics["test"]
    capsys.readouterr()

    assert cards_main(["pneumonia", str(chest_folder), "--weights-dir", str(weights),
                       "--bootstrap", "20"]) == 0
    output = capsys.readouterr().out
    assert "added 95% intervals (20 bootstrap samples" in output
    test = json.loads((directory / "metadata.json").read_text())["metrics"]["test"]
    assert test["ci95"]["accuracy"][0] <= test["accuracy"] <= test["ci95"]["accuracy"][1]
    assert "ci95" not in json.loads((directory / "metadata.json").read_text())["metrics"]["val"]
    for kind in ("roc", "calibration", "confusion"):
        assert (directory / f"{kind}_test.png").read_bytes()[:8] == PNG_SIGNATURE
    card = (directory / CARD_FILE).read_text()
    low, high = test["ci95"]["accuracy"]
    assert f"{test['accuracy']:.3f} ({low:.3f}–{high:.3f}) |\n" in card
    assert "(roc_test.png)" in card and "_val.png" not in card

    assert cards_main(["pneumonia", str(chest_folder), "--weights-dir", str(weights),
                       "--split", "val", "--bootstrap", "20"]) == 0
    assert "added 95% intervals" in capsys.readouterr().out
    assert cards_main(["pneumonia", str(chest_folder), "--weights-dir", str(weights),
                       "--bootstrap", "20"]) == 0
    assert "already has 95% intervals for test" in capsys.readouterr().out
    card = (directory / CARD_FILE).read_text()
    assert card.index("(roc_val.png)") < card.index("(roc_test.png)")


def test_the_cli_adds_no_intervals_for_other_data(chest_folder, tmp_path, capsys):
    weights = trained_pneumonia(tmp_path, chest_folder)
    before = (weights / "pneumonia" / "metadata.json").read_text()
    other = make_chest_xray_folder(tmp_path / "other", patients=30)
    capsys.readouterr()
    assert cards_main(["pneumonia", str(other), "--weights-dir", str(weights),
                       "--bootstrap", "20"]) == 0
    assert "intervals not added" in capsys.readouterr().out
    assert (weights / "pneumonia" / "metadata.json").read_text() == before


def test_the_cli_writes_only_a_card_for_the_segmenter(tmp_path, capsys):
    directory = tmp_path / "weights" / "skin-segmenter"
    metadata_with({"test": {"n": 4, "mean_iou": 0.8, "mean_dice": 0.9, "thresholded_iou": 0.7}},
                  name="skin-segmenter", task="segmentation", classes=["lesion"],
                  thresholds={"confidence": 0.25}).write(directory)
    (directory / "model.pt").write_bytes(b"not read")
    assert cards_main(["skin-segmenter", str(tmp_path / "absent"), "--weights-dir",
                       str(tmp_path / "weights")]) == 0
    assert "| Mean IoU | 0.800 |" in (directory / CARD_FILE).read_text()
    assert not list(directory.glob("*.png"))


def test_the_cli_reports_a_missing_model(tmp_path, capsys):
    assert cards_main(["pneumonia", str(tmp_path), "--weights-dir", str(tmp_path)]) == 2
    assert "model not installed" in capsys.readouterr().err


def test_the_card_states_the_input_gate_and_what_it_refused():
    gate = {"distance_reason": "not_a_lesion", "max_distance": 1146.02, "min_brightness": 0.39,
            "fitted": "limits chosen on the validation split",
            "refusal": {"test": {"n": 1224, "refused": 0.0163, "reasons": {"blurred": 3, "not_a_lesion": 6}},
                        "natural_photos": {"n": 100, "refused": 0.98, "reasons": {"not_a_lesion": 98}}}}
    metadata = ModelMetadata(name="skin-classifier", version="1.0.0", task="classification",
                             architecture="compact-resnet", weights_file="model.pt", classes=["a", "b"],
                             input_size=[8, 8], input_gate=gate)
    card = model_card(metadata)
    assert "## Input gate" in card and "Limits chosen on the validation split." in card
    assert "| feature distance (Mahalanobis, squared) at most | 1146 |" in card
    assert "| test | 1224 | 1.6% | blurred 3, not_a_lesion 6 |" in card
    assert "| natural_photos | 100 | 98.0% | not_a_lesion 98 |" in card
    ungated = ModelMetadata(name="x", version="1", task="classification", architecture="compact-resnet",
                            weights_file="model.pt", classes=["a", "b"], input_size=[8, 8])
    assert "None: every input gets a result." in model_card(ungated)
    assert "None run yet" in model_card(ungated)


def test_the_card_lists_the_checks_on_other_data_with_their_commands():
    metadata = ModelMetadata(name="skin-classifier", version="1.0.0", task="classification",
                             architecture="compact-resnet", weights_file="model.pt", classes=["a", "b"],
                             input_size=[8, 8], external_checks=[{
                                 "data": "ISIC 2017, 520 images", "command": "python -m ml.evaluate skin-melanoma DIR",
                                 "metrics": {"n": 520, "auc": 0.5899, "not_assessable": 0.2442}}])
    card = model_card(metadata)
    assert ("- ISIC 2017, 520 images: n 520, auc 0.59, not_assessable 0.244. "
            "Reproduce: `python -m ml.evaluate skin-melanoma DIR`") in card
