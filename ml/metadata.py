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


@dataclass
class ModelMetadata:
    name: str
    version: str
    task: str  # "classification" or "segmentation"
    architecture: str
    weights_file: str
    classes: list[str]
    input_size: list[int]  # [height, width] for 2D models, [depth, height, width] for 3D
    mean: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    std: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    gradcam_target_layer: str | None = None
    clahe: bool = False  # contrast-limited histogram equalisation before normalisation
    # Volumes: resampled to this voxel spacing (mm, z y x), then this HU window maps to [0, 1].
    voxel_spacing: list[float] | None = None
    hu_window: list[float] | None = None
    # Added to the logits before the softmax (post-hoc prior correction chosen on validation).
    logit_bias: list[float] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    # Average the probabilities over the four flips of the input (orientation-free images).
    test_time_flips: bool = False
    training_data: str = ""
    split: str = ""
    metrics: dict = field(default_factory=dict)
    intended_use: str = ""
    limitations: str = ""
    trained_on: str = ""
    created: str = ""

    @classmethod
    def read(cls, directory: Path) -> "ModelMetadata":
        data = json.loads((Path(directory) / METADATA_FILE).read_text())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def write(self, directory: Path) -> Path:
        path = Path(directory) / METADATA_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")
        return path
