import csv

import numpy as np
import pytest

from ml.datasets import rsna
from ml.datasets.common import DatasetError, split_of
from ml.dicom import SeriesError, read_radiograph
from ml.metadata import ModelMetadata
from ml.train import main as train_main
from tests.dicom_files import write_radiograph

CLASS_BY_INDEX = ["Normal", "No Lung Opacity / Not Normal", "Lung Opacity"]


def make_rsna_folder(root, patients=24):
    rng = np.random.default_rng(0)
    details, labels = [], []
    for n in range(patients):
        patient = f"patient-{n:03d}"
        label = n % 3
        pixels = rng.integers(30, 90, (64, 64)).astype(np.uint8)
        if label == 2:
            pixels[16:40, 10:30] = 220
            labels.append([patient, 10, 16, 20, 24, 1])
        else:
            labels.append([patient, "", "", "", "", 0])
        write_radiograph(root / "images" / f"{patient}.dcm", pixels, patient_id=patient)
        details.append([patient, CLASS_BY_INDEX[label]])
    with (root / "detailed_class_info_stage1.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["patientId", "class"], *details])
    with (root / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["patientId", "x", "y", "width", "height", "Target"], *labels])
    assert {split_of(f"patient-{n:03d}") for n in range(patients)} == {"train", "val", "test"}
    return root


def test_monochrome1_is_inverted_so_bone_is_bright(tmp_path):
    pixels = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    plain = read_radiograph(write_radiograph(tmp_path / "a.dcm", pixels))
    inverted = read_radiograph(write_radiograph(tmp_path / "b.dcm", pixels, photometric="MONOCHROME1"))
    assert plain[0, 0] == 0 and plain[0, -1] == 255
    assert inverted[0, 0] == 255 and inverted[0, -1] == 0


def test_a_file_that_is_not_dicom_is_refused(tmp_path):
    (tmp_path / "x.dcm").write_text("hello")
    with pytest.raises(SeriesError, match="not a readable DICOM"):
        read_radiograph(tmp_path / "x.dcm")


def test_classes_and_boxes_are_read(tmp_path):
    root = make_rsna_folder(tmp_path / "rsna")
    items = rsna.read_images(root)
    assert len(items) == 24 and {i.label for i in items} == {0, 1, 2}
    boxes = rsna.read_boxes(root)
    assert boxes["patient-002"] == [(10.0, 16.0, 20.0, 24.0)] and boxes["patient-000"] == []
    (root / "labels.csv").write_text("patientId,x\n")
    with pytest.raises(DatasetError, match="Target"):
        rsna.read_boxes(root)


def test_the_real_rsna_sample_reads_when_present():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rsna_dicom"
    if not root.is_dir():
        pytest.skip("../shared/data/rsna_dicom is not beside this checkout")
    items = rsna.read_images(root)
    assert len(items) == 16
    assert read_radiograph(items[0].path).shape == (1024, 1024)  # JPEG-compressed CR


def test_lung_opacity_classifier_and_detector_train(tmp_path):
    root = make_rsna_folder(tmp_path / "rsna")
    train_main(["ml/configs/lung-opacity.yaml", f"data_dir={root}", f"run_dir={tmp_path / 'c'}",
                f"install_dir={tmp_path / 'w' / 'lung-opacity'}", "epochs=1", "batch_size=8",
                "input_size=[32, 32]", "architecture=compact-resnet-tiny",
                "gradcam_target_layer=stages.1", "bootstrap_samples=10", "bf16=false"])
    assert ModelMetadata.read(tmp_path / "w" / "lung-opacity").classes == CLASS_BY_INDEX
    train_main(["ml/configs/lung-opacity-boxes.yaml", f"data_dir={root}",
                f"run_dir={tmp_path / 'd'}", f"install_dir={tmp_path / 'w' / 'boxes'}",
                "epochs=1", "imgsz=64", "batch_size=8", "workers=0"])
    metadata = ModelMetadata.read(tmp_path / "w" / "boxes")
    assert metadata.task == "detection" and "map50" in metadata.metrics["test"]
    label = (tmp_path / "d" / "dataset" / "labels").rglob("patient-002.txt")
    assert next(label).read_text().split()[0] == "0"


@pytest.mark.parametrize("syntax_name", ["RLELossless", "JPEG2000Lossless"])
def test_compressed_radiographs_decode_like_the_uncompressed_original(tmp_path, syntax_name):
    import pydicom
    import pydicom.uid

    pixels = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    original = write_radiograph(tmp_path / "plain.dcm", pixels)
    dataset = pydicom.dcmread(original)
    dataset.compress(getattr(pydicom.uid, syntax_name))
    dataset.save_as(tmp_path / "compressed.dcm", enforce_file_format=True)
    assert pydicom.dcmread(tmp_path / "compressed.dcm").file_meta.TransferSyntaxUID.is_compressed
    assert (read_radiograph(tmp_path / "compressed.dcm") == read_radiograph(original)).all()
