import json

import numpy as np
import pytest
import torch

from ml.datasets import lidc
from ml.datasets.common import DatasetError, split_of
from ml.evaluate import main as evaluate_main
from ml.gradcam import grad_cam
from ml.installed import load_installed
from ml.metadata import ModelMetadata
from ml.models import create_model
from ml.train import main as train_main
from ml.volumes import Volume, centre_fit, prepare_volume, resample, window


def test_nifti_volumes_read_as_z_y_x_with_spacing(lidc_folder):
    items = lidc.read_images(lidc_folder)
    assert len(items) == 32 and {i.label for i in items} == {0, 1}
    volume = lidc.read_volume(items[0].path)
    assert volume.hu.shape == (6, 24, 24)
    assert volume.spacing == pytest.approx((2.5, 0.8, 0.8))
    for split in ("train", "val", "test"):
        assert all(split_of(i.group) == split for i in lidc.read_images(lidc_folder, split))


def test_a_missing_column_or_volume_is_named(lidc_folder):
    first = lidc.read_images(lidc_folder)[0]
    first.path.unlink()
    with pytest.raises(DatasetError, match=first.path.name):
        lidc.read_images(lidc_folder)
    (lidc_folder / "labels.csv").write_text("voi_file,patient_id\n")
    with pytest.raises(DatasetError, match="label_malignant"):
        lidc.read_images(lidc_folder)


def test_resampling_centring_and_windowing():
    volume = Volume(hu=np.zeros((4, 10, 10), np.float32), spacing=(2.5, 0.5, 0.5))
    assert resample(volume, (1.25, 1.0, 1.0)).shape == (8, 5, 5)
    fitted = centre_fit(np.ones((3, 6, 6), np.float32), (5, 4, 4))
    assert fitted.shape == (5, 4, 4)
    assert fitted[0].max() == -1000.0 and fitted[2].min() == 1.0  # padded with air, cropped
    assert window(np.array([-2000.0, -300.0, 1000.0]), -1000, 400).tolist() == \
        pytest.approx([0.0, 0.5, 1.0])


def test_3d_grad_cam_highlights_a_volume():
    torch.manual_seed(0)
    network = create_model("cnn3d-tiny", num_classes=2)
    inputs = torch.rand(1, 1, 16, 32, 32)
    heatmap = grad_cam(network, network.features[2], inputs, 1)
    assert heatmap.ndim == 3 and heatmap.shape == (16, 32, 32)
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_nodule_training_and_evaluation(lidc_folder, tmp_path, capsys):
    weights = tmp_path / "weights"
    train_main(["ml/configs/nodule-malignancy.yaml", f"data_dir={lidc_folder}",
                f"run_dir={tmp_path / 'run'}", f"install_dir={weights / 'nodule-malignancy'}",
                "epochs=2", "batch_size=8", "architecture=cnn3d-tiny", "bootstrap_samples=20"])
    metadata = ModelMetadata.read(weights / "nodule-malignancy")
    assert metadata.classes == ["benign", "malignant"]
    assert metadata.voxel_spacing == [1.5, 1.0, 1.0] and metadata.hu_window == [-1000, 400]
    assert "malignant" in metadata.thresholds
    classifier = load_installed("nodule-malignancy", weights)
    volume = lidc.read_volume(lidc.read_images(lidc_folder)[0].path)
    inputs = torch.from_numpy(prepare_volume(volume, metadata))[None, None]
    assert inputs.shape == (1, 1, 16, 32, 32)
    assert classifier.predict_batch(inputs).shape == (1, 2)

    capsys.readouterr()
    assert evaluate_main(["nodule-malignancy", str(lidc_folder), "--weights-dir", str(weights)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"auc", "accuracy", "sensitivity", "specificity"} <= set(result)
    assert result["n"] == 32
