import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml.chest import (
    LUNG_OPACITY,
    LUNG_OPACITY_BOXES,
    PNEUMONIA,
    PNEUMONIA_TYPE,
    RadiographAnalysis,
    analyse_radiograph,
    radiograph_urgency,
)
from ml.dicom import SeriesError, radiograph_image, read_radiograph
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelNotInstalled, clear_cache
from ml.ultralytics_adapter import Box
from tests.dicom_files import write_radiograph
from tests.ml.model_fixtures import ungated_copy, write_test_lung_opacity, write_test_lung_opacity_boxes


def shipped(tmp_path, *names):
    """A weights folder holding only the named shipped models (weights linked), so that what
    is optional stays absent whatever else gets installed in ml/weights; their input gates
    are off, since the films here are drawn (tests/ml/test_shipped_gates.py tests the gates)."""
    return ungated_copy(DEFAULT_WEIGHTS_DIR, tmp_path / "weights", names)


@pytest.fixture(autouse=True)
def fresh_models():
    yield
    clear_cache()


def radiograph(size=(300, 200)) -> Image.Image:
    """A wide greyscale "chest": dark lungs with a bright patch in one of them."""
    image = Image.new("L", size, 200)
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse([width * 0.1, height * 0.1, width * 0.45, height * 0.9], fill=40)
    draw.ellipse([width * 0.55, height * 0.1, width * 0.9, height * 0.9], fill=40)
    draw.ellipse([width * 0.6, height * 0.5, width * 0.8, height * 0.8], fill=150)
    return image


def test_shipped_models_give_probabilities_and_a_heatmap_at_the_input_size(tmp_path):
    stages = []
    result = analyse_radiograph(radiograph(), weights_dir=shipped(tmp_path, PNEUMONIA, PNEUMONIA_TYPE),
                                progress=stages.append)
    assert stages == ["classification", "gradcam"]
    assert 0.0 <= result.pneumonia_probability <= 1.0
    assert 0.0 < result.pneumonia_threshold < 1.0
    assert set(result.pneumonia_type) == {"normal", "bacterial", "viral"}
    assert sum(result.pneumonia_type.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.heatmap.shape == (200, 300) and result.heatmap.dtype == np.float32
    assert result.heatmap.min() >= 0.0 and result.heatmap.max() <= 1.0
    assert [(m.name, m.version) for m in result.models] == [(PNEUMONIA, "1.0.0"),
                                                            (PNEUMONIA_TYPE, "1.0.0")]
    assert result.opacity is None and result.boxes is None
    assert result.not_installed == [LUNG_OPACITY, LUNG_OPACITY_BOXES]
    assert set(result.timings) == {"classification", "gradcam"}


def test_only_pneumonia_is_required(tmp_path):
    result = analyse_radiograph(radiograph(), weights_dir=shipped(tmp_path, PNEUMONIA))
    assert result.pneumonia_type is None
    assert result.not_installed == [PNEUMONIA_TYPE, LUNG_OPACITY, LUNG_OPACITY_BOXES]
    assert [m.name for m in result.models] == [PNEUMONIA]


def test_missing_pneumonia_fails_before_any_work(tmp_path):
    write_test_lung_opacity(tmp_path)
    stages = []
    with pytest.raises(ModelNotInstalled, match="pneumonia"):
        analyse_radiograph(radiograph(), weights_dir=tmp_path, progress=stages.append)
    assert stages == []


def test_opacity_models_run_when_installed_and_boxes_are_in_input_pixels(tmp_path):
    weights = shipped(tmp_path, PNEUMONIA)
    write_test_lung_opacity(weights, threshold=0.4)
    write_test_lung_opacity_boxes(weights)
    stages = []
    result = analyse_radiograph(radiograph((300, 200)), weights_dir=weights, progress=stages.append)
    assert stages == ["classification", "gradcam", "detection"]
    assert set(result.opacity) == {"Normal", "No Lung Opacity / Not Normal", "Lung Opacity"}
    assert result.opacity_threshold == 0.4
    assert [m.name for m in result.models] == [PNEUMONIA, LUNG_OPACITY, LUNG_OPACITY_BOXES]
    assert result.not_installed == [PNEUMONIA_TYPE]
    assert result.boxes, "the untrained detector's low confidence cut lets boxes through"
    for box in result.boxes:
        assert box.label == "opacity" and 0.0 <= box.score <= 1.0
        assert box.x >= 0 and box.x + box.width <= 300 + 1e-3
        assert box.y >= 0 and box.y + box.height <= 200 + 1e-3
    # The detector sees a 64-pixel letterboxed copy: boxes in its pixels would stay inside 64.
    assert max(box.x + box.width for box in result.boxes) > 64
    assert radiograph_urgency(result) == "urgent"


def analysis(probability=0.2, threshold=0.5, opacity=None, opacity_threshold=None, boxes=None):
    return RadiographAnalysis(
        pneumonia_probability=probability, pneumonia_threshold=threshold, pneumonia_type=None,
        opacity=opacity, boxes=boxes, heatmap=np.zeros((2, 2), np.float32), models=[],
        not_installed=[], opacity_threshold=opacity_threshold)


def opacity(score):
    rest = (1 - score) / 2
    return {"Normal": rest, "No Lung Opacity / Not Normal": rest, "Lung Opacity": score}


def test_urgency_rule_boundaries():
    assert radiograph_urgency(analysis(0.49, 0.5)) == "routine"
    assert radiograph_urgency(analysis(0.5, 0.5)) == "urgent"  # at the threshold counts
    assert radiograph_urgency(analysis(boxes=[])) == "routine"
    assert radiograph_urgency(analysis(boxes=[Box(1, 2, 3, 4, 0.3, "opacity")])) == "urgent"
    assert radiograph_urgency(analysis(opacity=opacity(0.29), opacity_threshold=0.3)) == "routine"
    assert radiograph_urgency(analysis(opacity=opacity(0.3), opacity_threshold=0.3)) == "urgent"
    # without a threshold, the served decision: "Lung Opacity" is the most probable class
    assert radiograph_urgency(analysis(opacity=opacity(0.3))) == "routine"
    assert radiograph_urgency(analysis(opacity=opacity(0.4))) == "urgent"


def test_radiograph_image_reads_a_dicom_path_or_an_open_file(tmp_path):
    pixels = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    path = write_radiograph(tmp_path / "cr.dcm", pixels, photometric="MONOCHROME1")
    image = radiograph_image(path)
    assert image.mode == "L" and image.size == (64, 8)
    assert np.array_equal(np.asarray(image), read_radiograph(path))
    with path.open("rb") as handle:
        assert np.array_equal(np.asarray(radiograph_image(handle)), np.asarray(image))
    assert np.array_equal(np.asarray(radiograph_image(io.BytesIO(path.read_bytes()))),
                          np.asarray(image))
    with pytest.raises(SeriesError, match="the upload is not a readable DICOM"):
        radiograph_image(io.BytesIO(b"plain text"))
