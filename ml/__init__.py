"""Medical image models: a registry, training, evaluation and inference pipelines."""

from ml.overlays import draw_heatmap, draw_outline
from ml.registry import ModelNotInstalled, create_model
from ml.skin import SKIN_CLASSES, ModelInfo, SkinAnalysis, analyse_skin_photo, load_skin_models
from ml.testing import write_test_weights

__all__ = [
    "SKIN_CLASSES", "ModelInfo", "ModelNotInstalled", "SkinAnalysis", "analyse_skin_photo",
    "create_model", "draw_heatmap", "draw_outline", "load_skin_models", "write_test_weights",
]
