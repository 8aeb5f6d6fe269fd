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


def test_roc_auc_matches_pair_counting():
    from ml.metrics import roc_auc

    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4]
    pairs = [(p, n) for p, lp in zip(scores, labels, strict=True) if lp
             for n, ln in zip(scores, labels, strict=True) if not ln]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc(labels, scores) == pytest.approx(expected)
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0


def test_thresholds_from_the_roc_curve():
    from ml.metrics import threshold_at_sensitivity, youden_threshold

    labels = [0, 0, 0, 1, 1, 1]
    scores = [0.1, 0.2, 0.6, 0.5, 0.7, 0.9]
    assert youden_threshold(labels, scores) == pytest.approx(0.7) or \
        youden_threshold(labels, scores) == pytest.approx(0.5)
    assert threshold_at_sensitivity(labels, scores, 1.0) == pytest.approx(0.5)


def test_binary_metrics_at_a_threshold():
    from ml.metrics import binary_metrics

    metrics = binary_metrics([0, 0, 1, 1], [0.2, 0.6, 0.4, 0.9], threshold=0.5)
    assert metrics["sensitivity"] == 0.5 and metrics["specificity"] == 0.5
    assert metrics["accuracy"] == 0.5 and metrics["auc"] == pytest.approx(0.75)
    assert metrics["confusion_matrix"] == [[1, 1], [1, 1]]


def test_ece_of_a_perfectly_calibrated_and_an_overconfident_model():
    from ml.metrics import expected_calibration_error

    assert expected_calibration_error([1, 1, 0, 0], [1.0, 1.0, 0.0, 0.0]) == pytest.approx(0.0)
    assert expected_calibration_error([0, 0], [0.95, 0.95]) == pytest.approx(0.95)


def test_bootstrap_intervals_contain_the_estimate_and_resample_groups():
    from ml.metrics import binary_metrics, bootstrap_intervals

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    scores = np.clip(labels * 0.4 + rng.random(200) * 0.6, 0, 1)
    intervals = bootstrap_intervals(lambda y, s: binary_metrics(y, s, 0.5), labels, scores,
                                    groups=np.arange(200) // 2, samples=200, keys={"auc"})
    low, high = intervals["auc"]
    assert set(intervals) == {"auc"}
    assert low < binary_metrics(labels, scores, 0.5)["auc"] < high
