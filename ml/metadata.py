"""The metadata that travels with a model's weights (``metadata.json`` beside them).

Everything serving needs to reproduce training's view of an input lives here: input size,
normalisation, class names, the Grad-CAM target layer and decision thresholds. Training
writes it; serving and evaluation read it, so the two cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

METADATA_FILE = "metadata.json"
COLOUR_CONSTANCY_METHODS = ("shades_of_grey",)


class MetadataError(ValueError):
    """``metadata.json`` says something this code cannot serve faithfully."""


@dataclass
class ModelMetadata:
    name: str
    version: str
    task: str  # "classification", "segmentation" or "detection"
    architecture: str
    weights_file: str
    classes: list[str]
    input_size: list[int]  # [height, width] for 2D models, [depth, height, width] for 3D
    mean: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    std: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    gradcam_target_layer: str | None = None
    clahe: bool = False  # contrast-limited histogram equalisation before normalisation
    # Colour constancy on the full-resolution RGB image, before resizing: "shades_of_grey"
    # (Minkowski norm of power colour_constancy_power), or None: off.
    colour_constancy: str | None = None
    colour_constancy_power: float = 6.0
    # Volumes: resampled to this voxel spacing (mm, z y x), then this HU window maps to [0, 1].
    voxel_spacing: list[float] | None = None
    hu_window: list[float] | None = None
    # Added to the logits before the softmax (post-hoc prior correction chosen on validation).
    logit_bias: list[float] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    # The input gate's limits and refusal rates (ml.input_gate; empty: the model is not gated).
    input_gate: dict = field(default_factory=dict)
    # Checks on data from elsewhere than the training set: [{"data", "command", "metrics"}].
    external_checks: list = field(default_factory=list)
    # Average the probabilities over the four flips of the input (orientation-free images).
    test_time_flips: bool = False
    training_data: str = ""
    split: str = ""
    metrics: dict = field(default_factory=dict)
    intended_use: str = ""
    limitations: str = ""
    trained_on: str = ""
    created: str = ""

    def __post_init__(self) -> None:
        if self.colour_constancy not in (None, *COLOUR_CONSTANCY_METHODS):
            raise MetadataError(f"{self.name}: unknown colour_constancy {self.colour_constancy!r}")
        if self.colour_constancy is not None and not self.colour_constancy_power > 0:
            raise MetadataError(f"{self.name}: colour_constancy_power must be positive")

    @classmethod
    def read(cls, directory: Path) -> ModelMetadata:
        """The metadata in ``directory``. A key this code does not know is refused rather
        than ignored: it may change how inputs must be prepared."""
        data = json.loads((Path(directory) / METADATA_FILE).read_text())
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise MetadataError(f"{METADATA_FILE} in {directory} has unknown key(s): "
                                f"{', '.join(unknown)}")
        return cls(**data)

    def write(self, directory: Path) -> Path:
        path = Path(directory) / METADATA_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")
        return path
