"""Array transforms shared by training, evaluation and serving, driven by model metadata."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from PIL import Image

from ml.metadata import ModelMetadata


def resize_rgb(image: Image.Image, size_hw: list[int] | tuple[int, int]) -> np.ndarray:
    """An RGB image resized to the model's input size, as uint8 HxWx3."""
    height, width = size_hw
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)


def apply_clahe(array: np.ndarray, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of an RGB uint8 image's lightness."""
    lab = cv2.cvtColor(array, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    lab[..., 0] = clahe.apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def shades_of_grey(rgb: np.ndarray, power: float = 6.0) -> np.ndarray:
    """Shades of Grey colour constancy (Finlayson and Trezzi, 2004) of an RGB HxWx3 image.

    On the image as float32 in [0, 255], per channel c: norm_c = mean(I_c ** p) ** (1/p);
    gain_c = sqrt(3) * norm_c / sqrt(sum of norm ** 2), at least 1e-6; out_c = I_c / gain_c
    clipped to [0, 255]; back in the input's dtype (``astype``: uint8 truncates).
    """
    image = np.asarray(rgb).astype(np.float32)
    norms = np.power(np.mean(np.power(image, power), axis=(0, 1)), 1 / power)
    if not np.all(np.isfinite(norms)):
        raise ValueError(f"colour constancy power {power} overflows float32")
    total = np.sqrt(np.sum(norms ** 2))
    gains = np.divide(math.sqrt(3) * norms, total, out=np.zeros_like(norms), where=total > 0)
    out = np.clip(image / np.maximum(gains, 1e-6), 0, 255)
    return out.astype(np.asarray(rgb).dtype)


def apply_colour_constancy(image: Image.Image, metadata: ModelMetadata) -> Image.Image:
    """The image colour-corrected at its full resolution as the model's metadata says; the
    image itself when the metadata names no colour constancy."""
    if metadata.colour_constancy != "shades_of_grey":
        return image
    rgb = np.asarray(image.convert("RGB"))
    return Image.fromarray(shades_of_grey(rgb, metadata.colour_constancy_power))


def prepare(image: Image.Image, metadata: ModelMetadata) -> np.ndarray:
    """An image as the model's uint8 HxWx3 input before normalisation: colour-corrected on
    its full resolution, resized, and equalised, each when the model was trained so."""
    array = resize_rgb(apply_colour_constancy(image, metadata), metadata.input_size)
    return apply_clahe(array) if metadata.clahe else array


def normalise(batch_uint8: torch.Tensor, metadata: ModelMetadata) -> torch.Tensor:
    """uint8 NxHxWx3 (or NxCxHxW float in [0,1]) to the model's normalised NxCxHxW float."""
    batch = batch_uint8
    if batch_uint8.dtype == torch.uint8:
        batch = batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(metadata.mean, dtype=batch.dtype).view(1, -1, 1, 1)
    std = torch.tensor(metadata.std, dtype=batch.dtype).view(1, -1, 1, 1)
    return (batch - mean) / std


def image_to_input(image: Image.Image, metadata: ModelMetadata) -> torch.Tensor:
    """One PIL image to a normalised 1xCxHxW tensor, exactly as training saw its images."""
    return normalise(torch.from_numpy(prepare(image, metadata)).unsqueeze(0), metadata)
