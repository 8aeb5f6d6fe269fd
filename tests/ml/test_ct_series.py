import csv

import numpy as np
import pytest

from ml.datasets import ct_series
from ml.datasets.common import DatasetError
from ml.dicom import SeriesError, read_series, read_series_folder
from ml.metadata import ModelMetadata
from ml.train import main as train_main
from tests.dicom_files import write_ct_series


def phantom(slices=12, size=24, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hu = rng.normal(-800, 20, (slices, size, size))
    hu[:, size // 3: 2 * size // 3, size // 3: 2 * size // 3] = 40
    hu += np.arange(slices)[:, None, None]  # each slice is told apart by its mean
    return hu.round()


def test_a_shuffled_series_is_sorted_along_the_normal_and_rescaled_to_hu(tmp_path):
    hu = phantom()
    files = write_ct_series(tmp_path / "s", hu, spacing=(2.5, 0.7, 0.7))
    volume = read_series(files)
    assert volume.hu.shape == hu.shape
    assert volume.spacing == pytest.approx((2.5, 0.7, 0.7))
    assert np.allclose(volume.hu, hu)


def test_a_missing_slice_is_refused(tmp_path):
    write_ct_series(tmp_path / "s", phantom(), skip={5})
    with pytest.raises(SeriesError, match="gap: about 1 slice"):
        read_series_folder(tmp_path / "s")


def test_mixed_series_and_single_slices_are_refused(tmp_path):
    first = write_ct_series(tmp_path / "a", phantom(slices=3))
    second = write_ct_series(tmp_path / "b", phantom(slices=3))
    with pytest.raises(SeriesError, match="2 different series"):
        read_series(first + second)
    with pytest.raises(SeriesError, match="at least two slices"):
        read_series(first[:1])
    (tmp_path / "text.dcm").write_text("not dicom")
    with pytest.raises(SeriesError, match="not a readable DICOM"):
        read_series([tmp_path / "text.dcm", *first])


def make_ct_folder(root, studies=16):
    rows = []
    for n in range(studies):
        hu = phantom(slices=8, size=16, seed=n)
        if n % 2:
            hu[2:6, 2:6, 2:6] = 300  # a dense "pathology"
        study, series = f"1.2.{n}", f"1.2.{n}.1"
        write_ct_series(root / "training_data" / study / series, hu, study_uid=study,
                        series_uid=series, seed=n)
        rows.append([study, series, n % 2])
    with (root / "training_data.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study_uid", "series_uid", "pathology"])
        writer.writerows(rows)
    return root


def test_the_service4ct_layout_is_read_and_checked(tmp_path):
    root = make_ct_folder(tmp_path / "ct", studies=4)
    items = ct_series.read_images(root)
    assert [i.label for i in items] == [0, 1, 0, 1] and items[0].path.is_dir()
    (root / "training_data.csv").write_text("study_uid,pathology\n")
    with pytest.raises(DatasetError, match="series_uid"):
        ct_series.read_images(root)


def test_ct_pathology_trains_on_a_synthetic_series_set(tmp_path):
    root = make_ct_folder(tmp_path / "ct")
    assert all(ct_series.read_images(root, split) for split in ("train", "val", "test"))
    install = tmp_path / "weights" / "ct-pathology"
    train_main(["ml/configs/ct-pathology.yaml", f"data_dir={root}", f"run_dir={tmp_path / 'run'}",
                f"install_dir={install}", "epochs=1", "batch_size=4", "input_size=[16, 16, 16]",
                "architecture=cnn3d-tiny", "bootstrap_samples=10", "bf16=false"])
    metadata = ModelMetadata.read(install)
    assert metadata.classes == ["normal", "pathology"] and metadata.voxel_spacing is None
    assert metadata.input_size == [16, 16, 16]


def test_a_slice_without_pixels_is_refused(tmp_path):
    import pydicom

    files = write_ct_series(tmp_path / "s", phantom(slices=4))
    dataset = pydicom.dcmread(files[2])
    del dataset.PixelData
    dataset.save_as(files[2], enforce_file_format=True)
    with pytest.raises(SeriesError, match="has no pixel data"):
        read_series(files)
