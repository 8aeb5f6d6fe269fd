"""Throwaway weights and DICOM files for the test suite and benchmarks: real files in the
real format, never trained.

They let tests run the whole pipeline (loading, inference, Grad-CAM, drawing) without the
shipped models. Their metadata says so, and nothing but tests and benchmarks may point at
them; they are never written into ``ml/weights``.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from ml.chest import LUNG_OPACITY, LUNG_OPACITY_BOXES, OPACITY_CLASS, OPACITY_CLASSES
from ml.ct import CT_PATHOLOGY
from ml.datasets.ct_series import CLASSES as CT_CLASSES
from ml.datasets.ham10000 import CLASSES
from ml.input_gate import GATE_FILE, FeatureDensity, pooled_features
from ml.installed import clear_cache, model_dir
from ml.metadata import ModelMetadata
from ml.models import create_model
from ml.skin import SKIN_CLASSIFIER, SKIN_SEGMENTER
from ml.ultralytics_adapter import YoloModel

TEST_VERSION = "0.0.0-test"
TEST_USE = "Automated tests only: untrained random weights."
TIMING_USE = "Timing benchmarks only: untrained random weights, meaningless outputs."


def write_test_classifier(weights_dir: Path, name: str = SKIN_CLASSIFIER) -> ModelMetadata:
    return _write_classifier(weights_dir, ModelMetadata(
        name=name, version=TEST_VERSION, task="classification",
        architecture="compact-resnet-tiny", weights_file="model.pt", classes=list(CLASSES),
        input_size=[48, 64], mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25],
        gradcam_target_layer="stages.1", intended_use=TEST_USE,
    ))


def write_test_segmenter(weights_dir: Path, name: str = SKIN_SEGMENTER) -> ModelMetadata:
    torch.manual_seed(0)
    directory = model_dir(name, weights_dir)
    directory.mkdir(parents=True, exist_ok=True)
    YoloModel("yolov8n-seg.yaml", "segmentation").save(directory / "model.pt")
    metadata = ModelMetadata(
        name=name, version=TEST_VERSION, task="segmentation", architecture="yolov8n-seg.yaml",
        weights_file="model.pt", classes=["lesion"], input_size=[64, 64],
        thresholds={"confidence": 0.01}, intended_use=TEST_USE,
    )
    metadata.write(directory)
    return metadata


def write_test_weights(weights_dir: Path) -> None:
    """Both skin models, untrained, under ``weights_dir``."""
    write_test_classifier(weights_dir)
    write_test_segmenter(weights_dir)
    clear_cache()


def write_test_lung_opacity(weights_dir: Path, threshold: float | None = None) -> ModelMetadata:
    """lung-opacity, untrained; with ``threshold`` on "Lung Opacity" if given."""
    metadata = _write_classifier(weights_dir, ModelMetadata(
        name=LUNG_OPACITY, version=TEST_VERSION, task="classification",
        architecture="compact-resnet-tiny", weights_file="model.pt",
        classes=list(OPACITY_CLASSES), input_size=[32, 32], mean=[0.5, 0.5, 0.5],
        std=[0.25, 0.25, 0.25], gradcam_target_layer="stages.1", clahe=True,
        thresholds={} if threshold is None else {OPACITY_CLASS: threshold}, intended_use=TEST_USE,
    ))
    clear_cache()
    return metadata


def write_test_lung_opacity_boxes(weights_dir: Path, confidence: float = 0.01) -> ModelMetadata:
    """lung-opacity-boxes: an untrained one-class YOLOv8n, whose low ``confidence`` cut
    lets a few of its random boxes through."""
    torch.manual_seed(0)
    directory = model_dir(LUNG_OPACITY_BOXES, weights_dir)
    directory.mkdir(parents=True, exist_ok=True)
    # The YAML has COCO's 80 classes; training sets one from its data, so rebuild with one.
    YoloModel("yolov8n.yaml", "detection", num_classes=1).save(directory / "model.pt")
    metadata = ModelMetadata(
        name=LUNG_OPACITY_BOXES, version=TEST_VERSION, task="detection",
        architecture="yolov8n.yaml", weights_file="model.pt", classes=["opacity"],
        input_size=[64, 64], thresholds={"confidence": confidence}, intended_use=TEST_USE,
    )
    metadata.write(directory)
    clear_cache()
    return metadata


def write_test_ct_pathology(weights_dir: Path, *, architecture: str = "cnn3d-tiny",
                            input_size=(16, 16, 16), threshold: float = 0.5,
                            intended_use: str = TEST_USE) -> ModelMetadata:
    """ct-pathology, untrained. The benchmark writes the real architecture and input size
    with ``intended_use=TIMING_USE``, into a temporary folder."""
    metadata = _write_classifier(weights_dir, ModelMetadata(
        name=CT_PATHOLOGY, version=TEST_VERSION, task="classification",
        architecture=architecture, weights_file="model.pt", classes=list(CT_CLASSES),
        input_size=list(input_size), mean=[0.0], std=[1.0], gradcam_target_layer="features.2",
        hu_window=[-1000, 400], thresholds={CT_CLASSES[1]: threshold}, intended_use=intended_use,
    ))
    clear_cache()
    return metadata


def _write_classifier(weights_dir: Path, metadata: ModelMetadata) -> ModelMetadata:
    torch.manual_seed(0)
    directory = model_dir(metadata.name, weights_dir)
    directory.mkdir(parents=True, exist_ok=True)
    network = create_model(metadata.architecture, num_classes=len(metadata.classes))
    torch.save(network.state_dict(), directory / metadata.weights_file)
    metadata.write(directory)
    return metadata


def new_dataset(sop_class: str, modality: str, patient_id: str = "TEST-0001") -> Dataset:
    """A pydicom image dataset with its file meta, UIDs and a test patient, ready for pixels."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Patient", patient_id
    ds.SamplesPerPixel = 1
    return ds


def write_ct_series(folder: Path, hu, *, spacing=(2.5, 0.7, 0.7), shuffle=True,
                    study_uid: str | None = None, series_uid: str | None = None,
                    skip: set[int] = frozenset(), seed: int = 0,
                    signed: bool = False) -> list[Path]:
    """One axial CT series of ``hu`` (z, y, x), one file per slice, stored with the rescale
    intercept -1024 as scanners do, as uint16 (or int16 with ``signed``); written in
    shuffled order by default. ``hu`` may be anything with a ``shape`` whose ``[index]`` is
    one slice, so that a long synthetic series need not exist in memory at once."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    indices = [i for i in range(hu.shape[0]) if i not in skip]
    if shuffle:
        random.Random(seed).shuffle(indices)
    stored = (np.int16, -32768, 32767) if signed else (np.uint16, 0, 65535)
    paths = []
    for order, index in enumerate(indices):
        ds = new_dataset(CTImageStorage, "CT")
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.InstanceNumber = order + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(index * spacing[0])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = int(signed)
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        dtype, low, high = stored
        ds.PixelData = np.clip(np.asarray(hu[index]) + 1024, low, high).astype(dtype).tobytes()
        path = folder / f"slice_{order:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_test_gate(weights_dir: Path, limits: dict, name: str = SKIN_CLASSIFIER,
                    distance_reason: str = "not_a_lesion") -> None:
    """Give an installed test classifier an input gate with these ``limits``; its feature
    density is one class at the origin with identity precision, so only the limits given
    decide (no ``max_distance``: the distance never refuses)."""
    directory = model_dir(name, weights_dir)
    metadata = ModelMetadata.read(directory)
    network = create_model(metadata.architecture, num_classes=len(metadata.classes))
    layer = network.eval().get_submodule(metadata.gradcam_target_layer)
    width = pooled_features(network, layer, torch.zeros(1, 3, *metadata.input_size)).shape[1]
    FeatureDensity(np.zeros((1, width), np.float32), np.eye(width, dtype=np.float32)).save(directory / GATE_FILE)
    metadata.input_gate = {"file": GATE_FILE, "distance_reason": distance_reason, **limits}
    metadata.write(directory)
    clear_cache()


def ungated_copy(weights_dir: Path, target: Path, names: tuple[str, ...] | None = None) -> Path:
    """``weights_dir``'s models (or those ``names``) under ``target``, weights linked, not
    copied, with their input gates off: for tests of a pipeline's mechanics on drawn images,
    which a real model's gate rightly refuses. What the gates do is tested on its own."""
    for source in sorted(Path(weights_dir).iterdir()):
        if not (source / "metadata.json").is_file() or (names is not None and source.name not in names):
            continue
        (target / source.name).mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            if path.name != "metadata.json":
                (target / source.name / path.name).symlink_to(path.resolve())
        metadata = ModelMetadata.read(source)
        metadata.input_gate = {}
        metadata.write(target / source.name)
    clear_cache()
    return target
