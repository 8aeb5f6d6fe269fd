import numpy as np
import pytest

from ml.metrics import classification_metrics, mask_scores, segmentation_metrics


def test_classification_metrics_on_a_known_confusion():
    labels = [0, 0, 0, 0, 1, 1, 2]
    predictions = [0, 0, 0, 1, 1, 0, 2]
    metrics = classification_metrics(labels, predictions, ["a", "b", "c"])
    assert metrics["accuracy"] == pytest.approx(5 / 7)
    assert metrics["recall"] == pytest.approx({"a": 0.75, "b": 0.5, "c": 1.0})
    assert metrics["balanced_accuracy"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    f1_a = 2 * 0.75 * 0.75 / 1.5
    f1_b = 2 * 0.5 * 0.5 / 1.0
    assert metrics["macro_f1"] == pytest.approx((f1_a + f1_b + 1.0) / 3)
    assert metrics["confusion_matrix"] == [[3, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_absent_classes_do_not_count_towards_balanced_accuracy():
    metrics = classification_metrics([0, 0], [0, 1], ["a", "b", "c"])
    assert metrics["balanced_accuracy"] == pytest.approx(0.5)
    assert set(metrics["recall"]) == {"a"}


def test_mask_scores():
    truth = np.zeros((10, 10), bool)
    truth[:5] = True
    predicted = np.zeros((10, 10), bool)
    predicted[:, :5] = True
    iou, dice = mask_scores(truth, predicted)
    assert iou == pytest.approx(25 / 75)
    assert dice == pytest.approx(50 / 100)
    assert mask_scores(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == (1.0, 1.0)


def test_thresholded_iou_zeroes_images_under_065():
    metrics = segmentation_metrics([0.9, 0.6, 0.8], [0.95, 0.75, 0.9])
    assert metrics["mean_iou"] == pytest.approx((0.9 + 0.6 + 0.8) / 3)
    assert metrics["thresholded_iou"] == pytest.approx((0.9 + 0 + 0.8) / 3)
