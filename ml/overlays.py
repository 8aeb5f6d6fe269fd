"""Drawing the models' findings over the photo a person sees."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

OUTLINE_COLOUR = (0, 255, 64)
HEATMAP_OPACITY = 0.45


def draw_outline(photo: Image.Image, mask: np.ndarray) -> Image.Image:
    """The photo with the outer contour of every lesion region in ``mask`` drawn over it."""
    canvas = np.array(photo.convert("RGB"))
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    thickness = max(2, round(max(canvas.shape[:2]) / 200))
    cv2.drawContours(canvas, contours, -1, OUTLINE_COLOUR, thickness, lineType=cv2.LINE_AA)
    return Image.fromarray(canvas)


def draw_heatmap(photo: Image.Image, heatmap: np.ndarray) -> Image.Image:
    """The photo blended with a colour map of ``heatmap`` (values in [0, 1])."""
    canvas = np.asarray(photo.convert("RGB"))
    if heatmap.shape != canvas.shape[:2]:
        heatmap = resize_map(heatmap, canvas.shape[:2])
    colours = cv2.applyColorMap(np.uint8(255 * heatmap.clip(0, 1)), cv2.COLORMAP_JET)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)
    blended = (1 - HEATMAP_OPACITY) * canvas + HEATMAP_OPACITY * colours
    return Image.fromarray(blended.clip(0, 255).astype(np.uint8))


def resize_map(values: np.ndarray, size_hw: Sequence[int]) -> np.ndarray:
    height, width = size_hw
    return cv2.resize(values.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def heatmap_layer(heatmap: np.ndarray, max_side: int = 512) -> Image.Image:
    """``heatmap`` (values in [0, 1]) as an RGBA image to lay over the image in a viewer: the
    colour map of the value, more opaque where the value is higher, clear where it is low."""
    height, width = heatmap.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        heatmap = resize_map(heatmap, (max(1, round(height * scale)), max(1, round(width * scale))))
    values = np.uint8(255 * heatmap.clip(0, 1))
    colours = cv2.cvtColor(cv2.applyColorMap(values, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    alpha = (values.astype(np.float32) * (HEATMAP_OPACITY * 1.6)).clip(0, 200).astype(np.uint8)
    return Image.fromarray(np.dstack([colours, alpha]), mode="RGBA")
