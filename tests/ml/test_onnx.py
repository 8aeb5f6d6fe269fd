import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import numpy_helper
from PIL import Image, ImageDraw

import ml.onnx_export
from ml.installed import ModelNotInstalled, clear_cache, load_installed, model_dir
from ml.metadata import ModelMetadata
from ml.models import create_model
from ml.onnx_export import ExportMismatch, check_against_pytorch, compare_logits, export_classifier, sample_inputs
from ml.onnx_runtime import OnnxClassifier, OutdatedExport
from tests.ml.model_fixtures import write_test_classifier

NAME = "skin-classifier"


@pytest.fixture
def weights_dir(tmp_path):
    write_test_classifier(tmp_path)
    clear_cache()
    yield tmp_path
    clear_cache()


def photo():
    image = Image.new("RGB", (200, 150), (225, 180, 160))
    ImageDraw.Draw(image).ellipse([60, 40, 150, 120], fill=(60, 40, 30))
    return image


def perturb_bias(path, amount=0.01):
    """Change one number in the exported graph, as a wrong translation would."""
    model = onnx.load(str(path))
    for initializer in model.graph.initializer:
        if initializer.name == "fc.bias":
            values = numpy_helper.to_array(initializer).copy()
            values[0] += amount
            initializer.CopyFrom(numpy_helper.from_array(values, initializer.name))
    onnx.save(model, str(path))


def test_export_writes_a_graph_with_a_free_batch_axis_that_agrees_with_pytorch(weights_dir):
    path = export_classifier(NAME, weights_dir)
    assert path == model_dir(NAME, weights_dir) / "model.onnx"
    assert sorted(p.name for p in path.parent.iterdir()) == ["metadata.json", "model.onnx",
                                                             "model.pt"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "input"
    assert session.get_inputs()[0].shape == ["batch", 3, 48, 64]
    assert session.get_outputs()[0].name == "logits"
    network = load_installed(NAME, weights_dir).network
    for batch in (1, 7):
        inputs = torch.randn(batch, 3, 48, 64)
        logits = session.run(["logits"], {"input": inputs.numpy()})[0]
        with torch.inference_mode():
            assert np.abs(logits - network(inputs).numpy()).max() < 1e-4


@pytest.mark.parametrize("flips", [False, True])
def test_onnx_classifier_serves_the_probabilities_of_the_pytorch_classifier(weights_dir, flips):
    directory = model_dir(NAME, weights_dir)
    metadata = ModelMetadata.read(directory)
    metadata.test_time_flips = flips
    metadata.logit_bias = [0.8, -0.5, 0.0, 1.2, 0.0, -1.0, 0.3]
    metadata.write(directory)
    clear_cache()
    export_classifier(NAME, weights_dir)
    pytorch = load_installed(NAME, weights_dir)
    exported = OnnxClassifier.load(NAME, weights_dir)
    assert exported.classes == pytorch.classes
    assert exported.metadata.test_time_flips is flips

    inputs = torch.randn(3, 3, 48, 64)
    expected = pytorch.predict_batch(inputs)
    probabilities = exported.predict_batch(inputs)
    assert probabilities.shape == (3, 7)
    assert np.abs(probabilities - expected).max() < 1e-5
    assert np.abs(probabilities.sum(1) - 1).max() < 1e-5
    assert np.abs(exported.predict_batch(inputs.numpy()) - expected).max() < 1e-5
    # The comparison can tell the served answer from the network's plain softmax.
    with torch.inference_mode():
        plain = torch.softmax(pytorch.network(inputs), 1).numpy()
    assert np.abs(plain - expected).max() > 1e-3

    served, onnx_served = pytorch.predict(photo()), exported.predict(photo())
    assert list(onnx_served) == list(served)
    assert max(abs(onnx_served[c] - served[c]) for c in served) < 1e-5


def test_a_volume_classifier_exports_and_serves_its_flipped_average(tmp_path):
    torch.manual_seed(0)
    directory = model_dir("nodule-malignancy", tmp_path)
    directory.mkdir(parents=True)
    torch.save(create_model("cnn3d-tiny", num_classes=2).state_dict(), directory / "model.pt")
    ModelMetadata(
        name="nodule-malignancy", version="0.0.0-test", task="classification",
        architecture="cnn3d-tiny", weights_file="model.pt", classes=["benign", "malignant"],
        input_size=[16, 32, 32], mean=[0.0], std=[1.0], voxel_spacing=[1.5, 1.0, 1.0],
        hu_window=[-1000, 400], test_time_flips=True,
    ).write(directory)
    clear_cache()
    export_classifier("nodule-malignancy", tmp_path)
    pytorch = load_installed("nodule-malignancy", tmp_path)
    exported = OnnxClassifier.load("nodule-malignancy", tmp_path)

    inputs = sample_inputs(pytorch.metadata, 4)
    assert inputs.shape == (4, 1, 16, 32, 32)
    expected = pytorch.predict_batch(inputs)
    assert np.abs(exported.predict_batch(inputs) - expected).max() < 1e-5
    # Flipping the last axis instead of depth and height would give other numbers.
    widthwise = np.concatenate([inputs.numpy(), np.flip(inputs.numpy(), 4)])
    other = exported.probabilities_from_logits(exported.logits(widthwise))
    assert np.abs(other.reshape(2, 4, -1).mean(0) - expected).max() > 1e-6
    clear_cache()


def test_a_missing_export_or_metadata_is_not_installed(weights_dir):
    with pytest.raises(ModelNotInstalled, match="model not installed: skin-classifier"):
        OnnxClassifier.load(NAME, weights_dir)
    export_classifier(NAME, weights_dir)
    OnnxClassifier.load(NAME, weights_dir)
    (model_dir(NAME, weights_dir) / "metadata.json").unlink()
    with pytest.raises(ModelNotInstalled):
        OnnxClassifier.load(NAME, weights_dir)


def test_an_export_of_other_weights_is_refused_until_exported_again(weights_dir):
    export_classifier(NAME, weights_dir)
    weights = model_dir(NAME, weights_dir) / "model.pt"
    state = torch.load(weights, weights_only=True)
    state["fc.bias"] += 1.0
    torch.save(state, weights)  # retrained
    clear_cache()
    with pytest.raises(OutdatedExport, match="export again"):
        OnnxClassifier.load(NAME, weights_dir)
    assert issubclass(OutdatedExport, ModelNotInstalled)
    export_classifier(NAME, weights_dir)
    OnnxClassifier.load(NAME, weights_dir)
    weights.unlink()  # an ONNX-only install has nothing to compare with
    OnnxClassifier.load(NAME, weights_dir)


def test_the_check_fails_on_a_graph_that_disagrees(weights_dir):
    path = export_classifier(NAME, weights_dir)
    classifier = load_installed(NAME, weights_dir)
    assert check_against_pytorch(classifier, path, tolerance=1e-4) < 1e-4
    perturb_bias(path)
    with pytest.raises(ExportMismatch, match=r"skin-classifier, random inputs: .* by 0\.01"):
        check_against_pytorch(classifier, path, tolerance=1e-4)


def test_a_failed_check_leaves_no_export_behind(weights_dir, monkeypatch):
    write_onnx = ml.onnx_export.write_onnx

    def mistranslated(network, metadata, path, opset):
        write_onnx(network, metadata, path, opset)
        perturb_bias(path)

    monkeypatch.setattr(ml.onnx_export, "write_onnx", mistranslated)
    with pytest.raises(ExportMismatch):
        export_classifier(NAME, weights_dir)
    assert sorted(p.name for p in model_dir(NAME, weights_dir).iterdir()) == ["metadata.json",
                                                                              "model.pt"]


def test_compare_logits_refuses_differences_shapes_and_nan():
    logits = np.zeros((2, 7), dtype=np.float32)
    assert compare_logits(logits, logits + 5e-5, 1e-4, "m") == pytest.approx(5e-5)
    with pytest.raises(ExportMismatch, match=r"m: .* by 0\.001 "):
        compare_logits(logits, logits + 1e-3, 1e-4, "m")
    with pytest.raises(ExportMismatch, match="shape"):
        compare_logits(logits, logits[:1], 1e-4, "m")
    with pytest.raises(ExportMismatch):
        compare_logits(logits, np.full_like(logits, np.nan), 1e-4, "m")


def test_command_line_prints_the_path_and_the_difference(weights_dir, capsys):
    assert ml.onnx_export.main([NAME, "--weights-dir", str(weights_dir)]) == 0
    path, difference = capsys.readouterr().out.split("  (largest logit difference from "
                                                     "PyTorch: ")
    assert path == str(model_dir(NAME, weights_dir) / "model.onnx")
    assert float(difference.rstrip(")\n")) < 1e-4
    assert ml.onnx_export.main(["pneumonia", "--weights-dir", str(weights_dir)]) == 2
    assert "model not installed: pneumonia" in capsys.readouterr().err
