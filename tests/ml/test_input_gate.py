"""The input gate: its measures against hand-computed values, and drawn images through the
served skin pipeline with test-made weights."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from ml.input_gate import (
    GATE_FILE,
    FeatureDensity,
    InputGate,
    colour_measures,
    judge,
    lesion_measures,
    photo_measures,
    pooled_features,
)
from ml.installed import clear_cache, load_installed, model_dir
from ml.metadata import ModelMetadata
from ml.skin import SKIN_CLASSIFIER, analyse_skin_photo
from tests.ml.model_fixtures import write_test_gate, write_test_weights


def test_the_distance_is_the_mahalanobis_distance_to_the_nearest_class():
    # Each class: four points around its mean; the shared covariance is diag(4/6, 16/6)
    # (8 points, 2 classes), so the precision is diag(1.5, 0.375).
    around = np.array([[1, 0], [-1, 0], [0, 2], [0, -2]], dtype=float)
    features = np.concatenate([around, around + np.array([10, 0])])
    labels = np.array([0] * 4 + [1] * 4)
    density = FeatureDensity.fit(features, labels, shrinkage=0.0)
    np.testing.assert_allclose(density.precision, np.diag([1.5, 0.375]), rtol=1e-6)
    np.testing.assert_allclose(density.distance(np.array([[0.0, 3.0], [10.0, 1.0], [5.0, 0.0]])),
                               [9 * 0.375, 1 * 0.375, 25 * 1.5], rtol=1e-6)


def test_photo_measures_see_blur_and_darkness():
    sharp = Image.new("RGB", (200, 150), "white")
    draw = ImageDraw.Draw(sharp)
    for x in range(0, 200, 8):
        draw.rectangle([x, 0, x + 3, 150], fill="black")
    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    assert photo_measures(blurred, (150, 200))["sharpness"] < photo_measures(sharp, (150, 200))["sharpness"] / 10
    black = photo_measures(Image.new("RGB", (640, 480)), (150, 200))
    assert black == {"sharpness": 0.0, "brightness": 0.0}
    assert photo_measures(Image.new("RGB", (64, 48), (255, 255, 255)), (48, 64))["brightness"] == 1.0


def test_lesion_measures_are_the_shares_of_the_image_and_of_its_edge():
    centred = np.zeros((10, 10), bool)
    centred[3:7, 3:7] = True
    assert lesion_measures(centred) == {"lesion_fraction": 0.16, "border_fraction": 0.0}
    corner = np.zeros((10, 10), bool)
    corner[:3, :3] = True  # on the edge: 3 of the top row and 2 more of the left column, of 36
    assert lesion_measures(corner) == {"lesion_fraction": 0.09, "border_fraction": pytest.approx(5 / 36)}


def test_judge_lists_every_reason_in_rule_order():
    limits = {"min_sharpness": 0.01, "min_brightness": 0.2, "max_brightness": 0.9, "min_lesion_fraction": 0.02,
              "max_border_fraction": 0.5, "max_distance": 100.0}
    good = {"sharpness": 0.02, "brightness": 0.5, "lesion_fraction": 0.3, "border_fraction": 0.1, "distance": 50.0}
    assert judge(good, limits, distance_reason="not_a_lesion").assessable
    bad = {"sharpness": 0.001, "brightness": 0.1, "lesion_fraction": 0.0, "border_fraction": 0.0, "distance": 500.0}
    gate = judge(bad, limits, distance_reason="not_a_lesion")
    assert not gate.assessable
    assert gate.reasons == ["blurred", "too_dark", "no_lesion", "not_a_lesion"]
    assert judge(good, {}, distance_reason="x").assessable  # no limits: nothing is refused


def drawn_lesion(seed: int) -> Image.Image:
    """A brown, irregular blob on skin-coloured, slightly noisy background."""
    rng = np.random.default_rng(seed)
    skin = np.array([224, 180, 150]) + rng.normal(0, 6, 3)
    pixels = np.clip(skin + rng.normal(0, 5, (150, 200, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    cx, cy, r = 100 + rng.integers(-20, 20), 75 + rng.integers(-12, 12), rng.integers(25, 45)
    points = [(cx + r * (1 + 0.25 * rng.standard_normal()) * np.cos(a), cy + r * (1 + 0.25 * rng.standard_normal()) * np.sin(a))
              for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
    draw.polygon(points, fill=tuple(int(v) for v in np.array([110, 70, 45]) + rng.normal(0, 10, 3)))
    return image.filter(ImageFilter.GaussianBlur(1))


def not_a_lesion(kind: str) -> Image.Image:
    if kind == "black":
        return Image.new("RGB", (200, 150))
    image = Image.new("RGB", (200, 150), (20, 60, 200))
    draw = ImageDraw.Draw(image)
    for x in range(0, 200, 20):
        draw.rectangle([x, 0, x + 9, 150], fill=(40, 220, 60))
    return image


def test_the_gate_refuses_drawn_non_lesions_and_accepts_drawn_lesions(tmp_path):
    write_test_weights(tmp_path)
    write_test_gate(tmp_path, {})  # so that the classifier loads with a gate at all
    classifier = load_installed(SKIN_CLASSIFIER, tmp_path)
    fitted = [drawn_lesion(seed) for seed in range(60)]
    features = np.concatenate([_features(classifier, image) for image in fitted])
    density = FeatureDensity.fit(features, np.zeros(len(features), int), shrinkage=0.05)
    held_out = density.distance(np.concatenate([_features(classifier, drawn_lesion(seed)) for seed in range(60, 80)]))
    brightness = [photo_measures(image, classifier.metadata.input_size)["brightness"] for image in fitted]
    directory = model_dir(SKIN_CLASSIFIER, tmp_path)
    density.save(directory / GATE_FILE)
    write_test_gate_limits(directory, {"max_distance": float(held_out.max() * 1.5),
                                       "min_brightness": float(min(brightness) * 0.5)})

    accepted = analyse_skin_photo(drawn_lesion(1000), weights_dir=tmp_path)
    assert accepted.gate.assessable and accepted.top_class and accepted.heatmap is not None
    black = analyse_skin_photo(not_a_lesion("black"), weights_dir=tmp_path)
    assert not black.gate.assessable and "too_dark" in black.gate.reasons
    stripes = analyse_skin_photo(not_a_lesion("stripes"), weights_dir=tmp_path)
    assert stripes.gate.reasons == ["not_a_lesion"]
    assert stripes.top_class == "" and stripes.probabilities == {} and stripes.heatmap is None


def _features(classifier, image: Image.Image) -> np.ndarray:
    inputs = classifier.input_tensor(image)
    return pooled_features(classifier.network, classifier.target_layer(), inputs)


def write_test_gate_limits(directory, limits: dict) -> None:
    metadata = ModelMetadata.read(directory)
    metadata.input_gate = {**metadata.input_gate, **limits}
    metadata.write(directory)
    clear_cache()


def test_a_model_without_a_gate_judges_every_input(tmp_path):
    write_test_weights(tmp_path)
    analysis = analyse_skin_photo(not_a_lesion("stripes"), weights_dir=tmp_path)
    assert analysis.gate.assessable and analysis.top_class


def test_an_installed_gate_loads_with_its_classifier(tmp_path):
    write_test_weights(tmp_path)
    write_test_gate(tmp_path, {"min_brightness": 0.2})
    gate = load_installed(SKIN_CLASSIFIER, tmp_path).input_gate
    assert isinstance(gate, InputGate) and gate.limits["min_brightness"] == 0.2


def test_colourfulness_is_zero_for_grey_films_stored_as_rgb_and_high_for_photos():
    assert colour_measures(Image.new("RGB", (300, 200), (90, 90, 90))) == {"colourfulness": 0.0}
    assert colour_measures(Image.new("L", (300, 200), 90)) == {"colourfulness": 0.0}
    assert colour_measures(Image.new("RGB", (300, 200), (255, 0, 0)))["colourfulness"] == pytest.approx(1.0)
    assert colour_measures(Image.new("RGB", (300, 200), (200, 150, 120)))["colourfulness"] == pytest.approx(80 / 255)
    gate = judge({"colourfulness": 0.3}, {"max_colourfulness": 0.02}, distance_reason="not_a_chest_radiograph")
    assert gate.reasons == ["not_a_chest_radiograph"]  # one reason, even when the distance agrees
    both = judge({"colourfulness": 0.3, "distance": 9.0}, {"max_colourfulness": 0.02, "max_distance": 1.0},
                 distance_reason="not_a_chest_radiograph")
    assert both.reasons == ["not_a_chest_radiograph"]
