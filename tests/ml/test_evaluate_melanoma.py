"""``python -m ml.evaluate skin-melanoma DIR``: the served skin pipeline on melanoma-labelled
dermoscopy from another site, and ``not_assessable`` in the other evaluations."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from ml import evaluate
from ml.input_gate import Gate
from ml.installed import ModelInfo
from ml.skin import SkinAnalysis
from tests.ml.model_fixtures import write_test_gate, write_test_weights


def write_set(folder, rows: list[tuple[str, int]], size=(180, 120)) -> None:
    (folder / "images").mkdir(parents=True)
    for index, (image_id, _melanoma) in enumerate(rows):
        colour = (8, 8, 8) if image_id.startswith("dark") else (190 - 20 * index, 140, 110)
        Image.new("RGB", size, colour).save(folder / "images" / f"{image_id}.jpg")
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "melanoma"])
        writer.writerows(rows)


def fixed_analysis(melanoma_probability: float | None) -> SkinAnalysis:
    """What the served pipeline answers, as given; None: the gate refused the photo."""
    refused = melanoma_probability is None
    probabilities = {} if refused else {"mel": melanoma_probability, "nv": 1 - melanoma_probability}
    return SkinAnalysis(top_class="" if refused else max(probabilities, key=probabilities.get),
                        probabilities=probabilities, lesion_mask=np.zeros((2, 2), bool), lesion_area_fraction=0.0,
                        heatmap=None, models=[ModelInfo("skin-classifier", "9.9.9")],
                        gate=Gate(False, ["too_dark"]) if refused else Gate(True))


def test_the_melanoma_metrics_against_hand_computed_values(tmp_path, monkeypatch):
    # melanomas score 0.9, 0.2 and one is refused; the others 0.1 and 0.4.
    answers = {"m1": 0.9, "m2": 0.2, "dark": None, "o1": 0.1, "o2": 0.4}
    write_set(tmp_path, [("m1", 1), ("m2", 1), ("dark", 1), ("o1", 0), ("o2", 0)])
    order = [answers[name] for name in ["m1", "m2", "dark", "o1", "o2"]]  # labels.csv's order
    seen = []

    def served(image, *, weights_dir):
        seen.append(image.size)
        return fixed_analysis(order.pop(0))

    monkeypatch.setattr(evaluate, "analyse_skin_photo", served)
    metrics = evaluate.evaluate_skin_melanoma(tmp_path, tmp_path)
    # AUC over the accepted photos: of the 4 (melanoma, other) pairs, 0.9>0.1, 0.9>0.4,
    # 0.2>0.1 rank right and 0.2<0.4 wrong: 3/4.
    assert metrics["auc"] == pytest.approx(0.75)
    # "soon" when mel is the top class or the cancers reach 0.30: m1 yes, m2 (0.2) no, the
    # refused one no; o1 (0.1) no, o2 (0.4) yes.
    assert metrics["flag_sensitivity"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["flag_rate_negatives"] == 0.5
    assert metrics["not_assessable"] == 0.2 and metrics["n"] == 5 and metrics["melanomas"] == 3
    assert metrics["model"] == {"name": "skin-classifier", "version": "9.9.9"}
    assert seen == [(180, 120)] * 5


def test_the_command_runs_the_served_pipeline_on_images_of_any_size(tmp_path, capsys):
    weights = tmp_path / "weights"
    write_test_weights(weights)
    write_test_gate(weights, {"min_brightness": 0.2})
    data = tmp_path / "isic"
    write_set(data, [("a", 1), ("b", 0), ("c", 0), ("dark", 1)], size=(256, 256))
    assert evaluate.main(["skin-melanoma", str(data), "--weights-dir", str(weights)]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n"] == 4 and metrics["not_assessable"] == 0.25
    assert 0.0 <= metrics["auc"] <= 1.0 and metrics["flag_sensitivity"] in (0.0, 0.5)


def test_a_folder_without_labels_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert evaluate.main(["skin-melanoma", str(tmp_path), "--weights-dir", str(tmp_path)]) == 2
    assert "labels.csv" in capsys.readouterr().err


def test_the_gate_command_counts_what_it_refuses_of_any_folder(tmp_path, capsys):
    weights = tmp_path / "weights"
    write_test_weights(weights)
    write_test_gate(weights, {"min_brightness": 0.2})
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    Image.new("RGB", (90, 60), (8, 8, 8)).save(folder / "dark.png")
    Image.new("RGB", (300, 200), (190, 140, 110)).save(folder / "light.jpg")
    assert evaluate.main(["skin-gate", str(tmp_path / "photos"), "--weights-dir", str(weights)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "n": 2, "refused": 0.5, "reasons": {"too_dark": 1}}
