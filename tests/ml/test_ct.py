import numpy as np
import pytest
import torch

import ml.dicom
from ml.ct import CT_PATHOLOGY, NODULE_MALIGNANCY, CTAnalysis, analyse_ct, ct_urgency, nodule_malignancy, patch_shape
from ml.ct_previews import viewer_volume
from ml.dicom import SeriesError, read_series, read_series_layout, read_slices
from ml.installed import DEFAULT_WEIGHTS_DIR, ModelNotInstalled, clear_cache, load_installed
from ml.volumes import AIR_HU, Volume, crop_around, prepare_volume
from tests.ml.model_fixtures import write_ct_series, write_test_ct_pathology

SPACING = (2.5, 0.7, 0.7)


@pytest.fixture(autouse=True)
def fresh_models():
    yield
    clear_cache()


def chest(slices=30, rows=64, columns=48, nodule=(15, 30, 20)) -> np.ndarray:
    """Air around a soft-tissue body with lungs, and one dense sphere in a lung."""
    z, y, x = np.ogrid[:slices, :rows, :columns]
    hu = np.full((slices, rows, columns), AIR_HU)
    hu[:, 4:rows - 4, 4:columns - 4] = 40.0
    hu[:, 8:rows - 8, 8:columns - 8] = -850.0
    hu += np.arange(slices)[:, None, None]  # each slice told apart
    sphere = ((z - nodule[0]) * SPACING[0]) ** 2 + ((y - nodule[1]) * SPACING[1]) ** 2 + \
        ((x - nodule[2]) * SPACING[2]) ** 2 <= 6.0 ** 2
    hu[sphere] = 60.0
    return hu.round()


def test_a_shuffled_series_gives_its_shape_spacing_previews_and_viewer_volume(tmp_path):
    hu = chest()
    files = write_ct_series(tmp_path / "s", hu, spacing=SPACING)
    stages = []
    result = analyse_ct(files, weights_dir=tmp_path / "none", progress=stages.append)
    assert stages == ["reading", "previews"]
    assert result.shape == (30, 64, 48)
    assert result.spacing == pytest.approx(SPACING)
    assert set(result.previews) == {"axial", "coronal", "sagittal"}
    assert result.previews["axial"].size == (48, 64)
    assert result.previews["coronal"].size == (48, round(30 * 2.5 / 0.7))
    assert result.montage.size == (4 * 256, 3 * 256)
    assert result.viewer_volume.dtype == np.int16
    assert np.array_equal(result.viewer_volume, hu.astype(np.int16))  # small: kept as it is
    assert result.viewer_spacing == pytest.approx(SPACING)
    assert result.pathology is None and result.pathology_threshold is None
    assert result.models == [] and result.not_installed == [CT_PATHOLOGY]
    assert ct_urgency(result) == "unknown"
    assert set(result.timings) == {"reading", "previews"}


def test_the_viewer_volume_is_area_averaged_to_256_and_halves_long_series():
    hu = np.random.default_rng(0).normal(-500, 300, (5, 512, 384)).astype(np.float32)
    viewer, spacing = viewer_volume(Volume(hu=hu, spacing=SPACING))
    assert viewer.shape == (5, 256, 192) and viewer.dtype == np.int16
    blocks = hu.reshape(5, 256, 2, 192, 2).mean(axis=(2, 4))
    assert np.abs(viewer - blocks).max() <= 0.51
    assert spacing == pytest.approx((2.5, 1.4, 1.4))

    viewer, spacing = viewer_volume(Volume(hu=hu[:, :40, :40], spacing=SPACING), max_slices=4)
    assert viewer.shape == (3, 40, 40) and spacing == pytest.approx((5.0, 0.7, 0.7))
    assert np.abs(viewer[0] - hu[:2, :40, :40].mean(0)).max() <= 0.51
    assert np.abs(viewer[2] - hu[4, :40, :40]).max() <= 0.51  # the odd last slice alone


def test_ct_pathology_runs_when_installed(tmp_path):
    write_test_ct_pathology(tmp_path / "weights")
    files = write_ct_series(tmp_path / "s", chest(), spacing=SPACING)
    stages = []
    result = analyse_ct(files, weights_dir=tmp_path / "weights", progress=stages.append)
    assert stages == ["reading", "classification", "previews"]
    assert set(result.pathology) == {"normal", "pathology"}
    assert sum(result.pathology.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.pathology_threshold == 0.5
    assert [(m.name, m.version) for m in result.models] == [(CT_PATHOLOGY, "0.0.0-test")]
    assert result.not_installed == []
    expected = "urgent" if result.pathology["pathology"] >= 0.5 else "routine"
    assert ct_urgency(result) == expected


def ct_analysis(pathology, threshold):
    return CTAnalysis(shape=(1, 1, 1), spacing=(1.0, 1.0, 1.0), pathology=pathology,
                      pathology_threshold=threshold, previews={}, montage=None,
                      viewer_volume=np.zeros((1, 1, 1), np.int16), viewer_spacing=(1.0, 1.0, 1.0),
                      models=[], not_installed=[])


def test_ct_urgency_boundaries():
    assert ct_urgency(ct_analysis({"normal": 0.61, "pathology": 0.39}, 0.4)) == "routine"
    assert ct_urgency(ct_analysis({"normal": 0.6, "pathology": 0.4}, 0.4)) == "urgent"
    assert ct_urgency(ct_analysis(None, None)) == "unknown"


def test_slices_are_read_on_their_own_with_air_beyond_the_ends(tmp_path):
    hu = chest(slices=8, rows=16, columns=16)
    files = write_ct_series(tmp_path / "s", hu, spacing=SPACING)
    layout = read_series_layout(files)
    assert layout.shape == (8, 16, 16) and layout.spacing == pytest.approx(SPACING)
    part = read_slices(layout, range(-2, 3))
    assert part.hu.shape == (5, 16, 16) and part.spacing == layout.spacing
    assert (part.hu[:2] == AIR_HU).all() and np.allclose(part.hu[2:], hu[:3])
    assert np.allclose(read_slices(layout, range(6, 10)).hu[:2], hu[6:])
    with pytest.raises(ValueError, match="consecutive"):
        read_slices(layout, range(0, 8, 2))


def test_a_signed_series_reads_like_an_unsigned_one(tmp_path):
    hu = chest(slices=4, rows=16, columns=16)
    signed = read_series(write_ct_series(tmp_path / "a", hu, spacing=SPACING, signed=True))
    assert np.allclose(signed.hu, read_series(write_ct_series(tmp_path / "b", hu, spacing=SPACING)).hu)


def test_crop_around_centres_the_box_and_pads_with_air():
    array = np.arange(5 * 6 * 7, dtype=np.float32).reshape(5, 6, 7)
    box = crop_around(array, (2, 3, 3), (3, 3, 3))
    assert np.array_equal(box, array[1:4, 2:5, 2:5])
    corner = crop_around(array, (0, 0, 0), (3, 3, 3))
    assert corner[1, 1, 1] == array[0, 0, 0] and (corner[0] == AIR_HU).all()
    assert (crop_around(array, (20, 0, 0), (3, 3, 3)) == AIR_HU).all()


def test_score_nodule_decodes_only_the_slices_of_its_patch(tmp_path, monkeypatch):
    import pydicom

    hu = chest()
    files = write_ct_series(tmp_path / "s", hu, spacing=SPACING)
    layout = read_series_layout(files)
    for far in (layout.paths[0], layout.paths[-1]):  # slices far from the nodule lose pixels
        dataset = pydicom.dcmread(far)
        del dataset.PixelData
        dataset.save_as(far, enforce_file_format=True)
    with pytest.raises(SeriesError, match="no pixel data"):
        read_series(files)

    decoded = []
    original = ml.dicom._to_hu
    monkeypatch.setattr(ml.dicom, "_to_hu", lambda ds: decoded.append(ds) or original(ds))
    score = nodule_malignancy(files, (15, 30, 20))
    model = load_installed(NODULE_MALIGNANCY, DEFAULT_WEIGHTS_DIR)
    shape = patch_shape(SPACING, model.metadata)
    assert len(decoded) == shape[0] < 30
    assert score.centre == (15, 30, 20)
    assert 0.0 <= score.probability <= 1.0
    assert score.threshold == model.metadata.thresholds["malignant"]
    assert score.positive == (score.probability >= score.threshold)
    assert (score.model.name, score.model.version) == (NODULE_MALIGNANCY, model.metadata.version)
    # 32 x 32 mm axially, 24 mm tall: one scale, 128 pixels on the longest side
    assert {n: i.size for n, i in score.cam_images.items()} == {
        "axial": (128, 128), "coronal": (128, 96), "sagittal": (128, 96)}
    assert all(image.mode == "RGB" for image in score.cam_images.values())

    # the same patch cut from the whole volume gives the same score
    volume = Volume(hu=hu.astype(np.float32), spacing=SPACING)
    patch = Volume(hu=crop_around(volume.hu, (15, 30, 20), shape), spacing=SPACING)
    inputs = torch.from_numpy(prepare_volume(patch, model.metadata))[None, None]
    assert model.predict_batch(inputs)[0][1] == pytest.approx(score.probability, abs=1e-6)


def test_a_nodule_at_the_edge_is_padded_and_a_centre_outside_is_refused(tmp_path):
    files = write_ct_series(tmp_path / "s", chest(slices=6, rows=24, columns=24), spacing=SPACING)
    assert nodule_malignancy(files, (0, 0, 23)).centre == (0, 0, 23)
    with pytest.raises(ValueError, match="outside the volume"):
        nodule_malignancy(files, (6, 0, 0))


def test_a_missing_nodule_model_is_reported(tmp_path):
    files = write_ct_series(tmp_path / "s", chest(slices=4, rows=16, columns=16), spacing=SPACING)
    with pytest.raises(ModelNotInstalled, match=NODULE_MALIGNANCY):
        nodule_malignancy(files, (2, 8, 8), weights_dir=tmp_path / "empty")
