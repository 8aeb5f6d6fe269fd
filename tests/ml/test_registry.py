import pytest
import torch

from ml.installed import ModelNotInstalled, load_installed
from ml.metadata import ModelMetadata
from ml.models import architectures, create_model
from tests.ml.model_fixtures import write_test_classifier


def test_create_model_builds_each_architecture_by_name():
    assert {"compact-resnet", "compact-resnet-tiny", "resnet18"} <= set(architectures())
    network = create_model("compact-resnet", num_classes=7)
    assert network(torch.zeros(2, 3, 120, 160)).shape == (2, 7)


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        create_model("nope", num_classes=2)


def test_missing_weights_are_reported_not_replaced(tmp_path):
    with pytest.raises(ModelNotInstalled, match="model not installed: skin-classifier"):
        load_installed("skin-classifier", tmp_path)
    metadata = write_test_classifier(tmp_path)
    (tmp_path / "skin-classifier" / metadata.weights_file).unlink()
    with pytest.raises(ModelNotInstalled):
        load_installed("skin-classifier", tmp_path / "other")  # a fresh cache key, no weights


def test_metadata_the_code_cannot_serve_means_not_installed(tmp_path):
    import json

    metadata = write_test_classifier(tmp_path)
    path = tmp_path / "skin-classifier" / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "white_balance": "auto"}))
    with pytest.raises(ModelNotInstalled, match=r"model not installed: skin-classifier .*white_balance"):
        load_installed(metadata.name, tmp_path)


def test_installed_model_loads_once_and_follows_its_metadata(tmp_path):
    write_test_classifier(tmp_path)
    first = load_installed("skin-classifier", tmp_path)
    assert load_installed("skin-classifier", tmp_path) is first
    assert first.metadata.input_size == [48, 64]
    assert first.input_tensor(__import__("PIL.Image").Image.new("RGB", (300, 200))).shape == (1, 3, 48, 64)


def test_metadata_round_trip(tmp_path):
    metadata = ModelMetadata(name="m", version="1.2.3", task="classification",
                             architecture="compact-resnet", weights_file="model.pt",
                             classes=["a", "b"], input_size=[8, 8], metrics={"val": {"accuracy": 0.9}})
    metadata.write(tmp_path)
    assert ModelMetadata.read(tmp_path) == metadata


def test_test_time_flips_average_the_four_flips(tmp_path):
    from ml.classifier import Classifier

    write_test_classifier(tmp_path)
    plain = load_installed("skin-classifier", tmp_path)
    inputs = torch.randn(3, 3, 48, 64)
    flipped = Classifier(plain.network, plain.metadata)
    flipped.metadata = ModelMetadata(**{**plain.metadata.__dict__, "test_time_flips": True})
    expected = torch.stack([
        torch.softmax(plain.network(v), 1)
        for v in (inputs, inputs.flip(3), inputs.flip(2), inputs.flip(2).flip(3))
    ]).mean(0).detach().numpy()
    probabilities = flipped.predict_batch(inputs)
    assert probabilities.shape == (3, 7)
    assert abs(probabilities - expected).max() < 1e-5
    assert abs(probabilities.sum(1) - 1).max() < 1e-5


@pytest.mark.parametrize(("name", "shape"), [
    ("resnet50", (1, 3, 64, 64)), ("densenet121", (1, 3, 64, 64)),
    ("efficientnet-b0", (1, 3, 64, 64)), ("cnn3d", (1, 1, 16, 32, 32)),
    ("resnet3d-small", (1, 1, 16, 32, 32)),
])
def test_every_registered_architecture_builds_and_runs(name, shape):
    network = create_model(name, num_classes=3).eval()
    with torch.inference_mode():
        assert network(torch.zeros(shape)).shape == (1, 3)


def test_models_run_where_ml_device_says(monkeypatch):
    import torch

    from ml.devices import inference_device, ultralytics_device

    monkeypatch.setenv("ML_DEVICE", "cpu")
    assert inference_device() == torch.device("cpu")
    monkeypatch.setenv("ML_DEVICE", "auto")
    assert inference_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert ultralytics_device(torch.device("cuda", 1)) == "1" and ultralytics_device(torch.device("cpu")) == "cpu"
    if not torch.cuda.is_available():
        monkeypatch.setenv("ML_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="no CUDA device"):
            inference_device()
