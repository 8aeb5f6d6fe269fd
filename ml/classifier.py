"""An installed image classifier: its network, its metadata, and how it is run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ml.devices import inference_device
from ml.input_gate import NOT_GATED, Gate, InputGate
from ml.metadata import ModelMetadata
from ml.models import create_model
from ml.preprocessing import image_to_input


class Classifier:
    def __init__(self, network: torch.nn.Module, metadata: ModelMetadata, input_gate: InputGate | None = None):
        self.network = network.eval()
        self.metadata = metadata
        self.input_gate = input_gate
        bias = metadata.logit_bias or [0.0] * len(metadata.classes)
        self.logit_bias = torch.tensor(bias, dtype=torch.float32)

    @classmethod
    def load(cls, path: Path, metadata: ModelMetadata) -> Classifier:
        network = create_model(metadata.architecture, num_classes=len(metadata.classes))
        state = torch.load(path, map_location="cpu", weights_only=True)
        network.load_state_dict({k: v.float() for k, v in state.items()})
        gate = InputGate.load(path.parent, metadata.input_gate) if metadata.input_gate else None
        return cls(network.to(inference_device()), metadata, gate)

    @property
    def classes(self) -> list[str]:
        return self.metadata.classes

    def input_tensor(self, image: Image.Image) -> torch.Tensor:
        return image_to_input(image, self.metadata)

    def probabilities_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits.float().cpu() + self.logit_bias, dim=-1)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @torch.inference_mode()
    def predict_batch(self, inputs: torch.Tensor) -> np.ndarray:
        """Class probabilities for a normalised NxCxHxW batch, as served."""
        inputs = inputs.to(self.device)
        if not self.metadata.test_time_flips:
            return self.probabilities_from_logits(self.network(inputs)).numpy()
        views = torch.cat([inputs, inputs.flip(3), inputs.flip(2), inputs.flip(2).flip(3)])
        probabilities = self.probabilities_from_logits(self.network(views))
        return probabilities.view(4, len(inputs), -1).mean(0).numpy()

    def predict(self, image: Image.Image) -> dict[str, float]:
        probabilities = self.predict_batch(self.input_tensor(image))[0]
        return {c: float(p) for c, p in zip(self.classes, probabilities, strict=True)}

    def gate(self, inputs: torch.Tensor, measures: dict[str, float] | None = None) -> Gate:
        """Whether the model can judge this normalised 1xCxHxW input (ml.input_gate), given
        the other ``measures`` of the image; every input passes a model without a gate."""
        if self.input_gate is None:
            return NOT_GATED
        distance = self.input_gate.distance(self.network, self.target_layer(), inputs.to(self.device))
        return self.input_gate.judge({**(measures or {}), "distance": distance})

    def target_layer(self) -> torch.nn.Module:
        return self.network.get_submodule(self.metadata.gradcam_target_layer)
