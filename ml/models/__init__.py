"""Network architectures by name: ``create_model("compact-resnet", num_classes=7)``.

Each model module registers its builders when imported; importing this package imports them
all, so every name is known to ``create_model``. YOLOv8 models are not here: ultralytics
builds them from their YAML names (``yolov8n-seg.yaml``) in :mod:`ml.ultralytics_adapter`.
"""

from ml.models import compact_resnet, torchvision_models, volumetric  # noqa: F401  (they register themselves)
from ml.models._registry import architectures, create_model, register_model

__all__ = ["architectures", "create_model", "register_model"]
