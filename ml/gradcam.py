"""Grad-CAM through the ``grad-cam`` package, on the layer the model's metadata names.

One routine for 2D and 3D classifiers: the package handles both activation shapes, and the
result is resized by the caller to whatever grid it draws on.
"""

from __future__ import annotations

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


def grad_cam(network: torch.nn.Module, target_layer: torch.nn.Module, inputs: torch.Tensor,
             class_index: int) -> np.ndarray:
    """The class activation map of ``class_index`` for a batch of one, in [0, 1], shaped like
    the input's spatial dimensions."""
    network.eval()
    inputs = inputs.to(next(network.parameters()).device)
    with GradCAM(model=network, target_layers=[target_layer]) as cam:
        heatmap = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(int(class_index))])[0]
    heatmap = np.nan_to_num(heatmap.astype(np.float32))
    peak = float(heatmap.max())
    return heatmap / peak if peak > 0 else heatmap
