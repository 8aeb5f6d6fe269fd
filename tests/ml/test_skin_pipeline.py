import numpy as np
import pytest
from PIL import Image, ImageDraw

import ml
from ml.installed import clear_cache, load_all_installed
from tests.ml.model_fixtures import write_test_weights


@pytest.fixture
def test_weights(tmp_path):
    write_test_weights(tmp_path)
    yield tmp_path
    clear_cache()


def photo(size=(300, 225)):
    image = Image.new("RGB", size, (225, 180, 160))
    ImageDraw.Draw(image).ellipse([90, 60, 210, 160], fill=(60, 40, 30))
    return image


def test_analysis_gives_all_classes_a_mask_and_a_heatmap_at_the_photo_size(test_weights):
    stages = []
    result = ml.analyse_skin_photo(photo(), weights_dir=test_weights, progress=stages.append)
    assert stages == ["classification", "segmentation", "gradcam"]
    assert set(result.probabilities) == set(ml.SKIN_CLASSES)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.top_class == max(result.probabilities, key=result.probabilities.get)
    assert result.lesion_mask.shape == (225, 300) and result.lesion_mask.dtype == bool
    assert result.lesion_area_fraction == pytest.approx(result.lesion_mask.mean())
    assert result.heatmap.shape == (225, 300)
    assert result.heatmap.min() >= 0.0 and result.heatmap.max() <= 1.0
    assert [m.name for m in result.models] == ["skin-classifier", "skin-segmenter"]
    assert all(m.version == "0.0.0-test" for m in result.models)
    assert set(result.timings) == {"classification", "segmentation", "gradcam"}


def test_missing_model_fails_before_any_work(tmp_path):
    stages = []
    with pytest.raises(ml.ModelNotInstalled, match="skin-classifier"):
        ml.analyse_skin_photo(photo(), weights_dir=tmp_path, progress=stages.append)
    assert stages == []


def test_overlays_keep_the_photo_size_and_change_pixels():
    image = photo()
    mask = np.zeros((225, 300), bool)
    mask[60:160, 90:210] = True
    outline = ml.draw_outline(image, mask)
    assert outline.size == image.size
    changed = np.any(np.asarray(outline) != np.asarray(image), axis=2)
    assert changed[60, 150] and not changed[5, 5]  # on the border, not far from it
    heat = np.zeros((10, 10), np.float32)
    heat[5, 5] = 1.0
    heatmap = ml.draw_heatmap(image, heat)
    assert heatmap.size == image.size
    assert not np.array_equal(np.asarray(heatmap), np.asarray(image))


def test_loading_a_segmenter_leaves_pillow_unpatched(test_weights):
    import io

    from PIL import Image, UnidentifiedImageError

    ml.analyse_skin_photo(photo(), weights_dir=test_weights)  # imports ultralytics
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"plain text, not an image"))
    assert Image.open.__module__ == "PIL.Image"


def test_worker_start_loads_every_installed_model(test_weights, tmp_path):
    assert [m.name for m in load_all_installed(test_weights)] == ["skin-classifier", "skin-segmenter"]
    assert load_all_installed(tmp_path / "empty") == []
