"""Shades of Grey colour constancy: the transform itself, and that training and serving apply
it alike when (and only when) a model's metadata asks for it."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from ml.datasets.common import load_images
from ml.metadata import MetadataError, ModelMetadata
from ml.preprocessing import image_to_input, normalise, prepare, shades_of_grey


def test_shades_of_grey_matches_a_hand_computed_2x2_image():
    # Red and green: 0, 0, 64, 64, so norm = (64**6 / 2) ** (1/6) = 64 * 2 ** (-1/6);
    # blue: 64 everywhere, norm 64. With s = sqrt(2 * 2 ** (-1/3) + 1) = sqrt(2 ** (2/3) + 1):
    # gain_red = gain_green = sqrt(3) * 2 ** (-1/6) / s = 0.959306...,
    # gain_blue = sqrt(3) / s = 1.076784..., so 64 becomes 66.7149... (red, green) and
    # 59.4362... (blue), truncated to uint8 as ``astype`` does.
    image = np.array([[[0, 0, 64], [0, 0, 64]],
                      [[64, 64, 64], [64, 64, 64]]], dtype=np.uint8)
    s = math.sqrt(2 ** (2 / 3) + 1)
    assert 64 / (math.sqrt(3) * 2 ** (-1 / 6) / s) == pytest.approx(66.7149, abs=1e-4)
    assert 64 / (math.sqrt(3) / s) == pytest.approx(59.4362, abs=1e-4)
    expected = np.array([[[0, 0, 59], [0, 0, 59]],
                         [[66, 66, 59], [66, 66, 59]]], dtype=np.uint8)
    result = shades_of_grey(image, 6)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, expected)


def test_shades_of_grey_clips_and_survives_black_channels():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0] = 255  # red only: its gain is sqrt(3), the others are floored at 1e-6
    result = shades_of_grey(image, 6)
    np.testing.assert_array_equal(result[..., 0], np.full((2, 2), int(255 / math.sqrt(3))))
    assert not result[..., 1:].any()
    np.testing.assert_array_equal(shades_of_grey(np.zeros((2, 2, 3), np.uint8), 6), 0)
    grey = np.full((3, 3, 3), 200, np.uint8)
    assert np.abs(shades_of_grey(grey, 6).astype(int) - 200).max() <= 1


def tinted_photo(size=(64, 48)) -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = rng.integers(40, 200, (size[1], size[0], 3)).astype(np.float32)
    pixels *= np.array([1.2, 0.9, 0.7])  # a warm cast
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def metadata(**changes) -> ModelMetadata:
    values = {"name": "m", "version": "1", "task": "classification",
              "architecture": "compact-resnet-tiny", "weights_file": "model.pt",
              "classes": ["a", "b"], "input_size": [12, 16],
              "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    return ModelMetadata(**{**values, **changes})


def test_prepare_applies_colour_constancy_before_resizing_only_when_asked():
    photo = tinted_photo()
    plain = prepare(photo, metadata())
    corrected = prepare(photo, metadata(colour_constancy="shades_of_grey", colour_constancy_power=6))
    expected = np.array(Image.fromarray(shades_of_grey(np.asarray(photo), 6)).resize(
        (16, 12), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(corrected, expected)
    np.testing.assert_array_equal(plain, np.array(photo.resize((16, 12), Image.Resampling.BILINEAR)))
    assert not np.array_equal(plain, corrected)
    channel_means = corrected.reshape(-1, 3).mean(0)
    assert channel_means.max() - channel_means.min() < 0.5 * np.ptp(plain.reshape(-1, 3).mean(0))


def test_training_and_serving_see_the_same_corrected_input(tmp_path):
    path = tmp_path / "photo.png"
    tinted_photo().save(path)
    model = metadata(colour_constancy="shades_of_grey", colour_constancy_power=6)
    trained_on = normalise(torch.from_numpy(load_images([path], model)), model)
    with Image.open(path) as photo:
        served = image_to_input(photo, model)
    assert torch.equal(trained_on, served)


def test_metadata_written_by_a_training_run_serves_with_its_colour_constancy(tmp_path):
    """The keys a training run writes: ``colour_constancy`` and ``colour_constancy_power``."""
    fields = json.loads(json.dumps(metadata().__dict__))
    fields.update(colour_constancy="shades_of_grey", colour_constancy_power=6)
    (tmp_path / "metadata.json").write_text(json.dumps(fields))
    read = ModelMetadata.read(tmp_path)
    assert read.colour_constancy == "shades_of_grey" and read.colour_constancy_power == 6
    photo = tinted_photo()
    np.testing.assert_array_equal(prepare(photo, read),
                                  prepare(photo, metadata(colour_constancy="shades_of_grey")))


def test_metadata_without_the_keys_leaves_colour_alone(tmp_path):
    fields = json.loads(json.dumps(metadata().__dict__))
    del fields["colour_constancy"], fields["colour_constancy_power"]
    (tmp_path / "metadata.json").write_text(json.dumps(fields))
    read = ModelMetadata.read(tmp_path)
    assert read.colour_constancy is None
    np.testing.assert_array_equal(prepare(tinted_photo(), read), prepare(tinted_photo(), metadata()))


def test_metadata_that_cannot_be_served_faithfully_is_refused(tmp_path):
    with pytest.raises(MetadataError, match="colour_constancy"):
        metadata(colour_constancy="grey_world")
    fields = json.loads(json.dumps(metadata().__dict__))
    fields["white_balance"] = "auto"
    (tmp_path / "metadata.json").write_text(json.dumps(fields))
    with pytest.raises(MetadataError, match="white_balance"):
        ModelMetadata.read(tmp_path)


def test_a_yolo_model_sees_the_corrected_image_too():
    from ml.segmentation import Segmenter

    seen = []

    class Model:
        def predict_mask(self, image, **options):
            seen.append(np.asarray(image))
            return np.zeros((image.height, image.width), bool)

    photo = tinted_photo()
    segmenter = Segmenter(Model(), metadata(task="segmentation", classes=["lesion"],
                                            colour_constancy="shades_of_grey"))
    assert segmenter.predict_mask(photo).shape == (48, 64)
    np.testing.assert_array_equal(seen[0], shades_of_grey(np.asarray(photo), 6))
    Segmenter(Model(), metadata(task="segmentation", classes=["lesion"])).predict_mask(photo)
    np.testing.assert_array_equal(seen[1], np.asarray(photo))


def test_the_model_card_states_the_step():
    from ml.cards import model_card

    assert "Shades of Grey colour constancy (p = 6)" in model_card(
        metadata(colour_constancy="shades_of_grey"))
    assert "colour constancy" not in model_card(metadata())
