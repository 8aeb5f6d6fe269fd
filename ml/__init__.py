"""Medical image models: a registry, training, evaluation and inference pipelines.

The names below are imported on first use, so that `import ml.series` (NumPy only) in a
web process does not load torch.
"""

import importlib

_EXPORTS = {
    "draw_heatmap": "ml.overlays", "draw_outline": "ml.overlays",
    "ModelNotInstalled": "ml.installed", "ModelInfo": "ml.installed",
    "create_model": "ml.models",
    "SKIN_CLASSES": "ml.skin", "SkinAnalysis": "ml.skin", "analyse_skin_photo": "ml.skin",
    "RadiographAnalysis": "ml.chest", "analyse_radiograph": "ml.chest",
    "radiograph_urgency": "ml.chest",
    "CTAnalysis": "ml.ct", "NoduleScore": "ml.ct", "analyse_ct": "ml.ct", "ct_urgency": "ml.ct",
    "nodule_malignancy": "ml.ct",
}

__all__ = tuple(sorted(_EXPORTS))


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
