"""Checking and opening uploaded photos.

One gate for every path a photo takes: the upload form, the API and the worker all go
through `read_photo` / `open_photo`, so a file that passes here can be analysed.
"""
import os
import struct
import warnings
from dataclasses import dataclass
from typing import IO

import numpy as np
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps

from lesions_project.errors import ApplicationError

# Pillow format name -> (content type, file extension)
ACCEPTED_FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}

# The longest side of the copy of a photo that is analysed and drawn on.
WORKING_MAX_SIDE = 1600

EMPTY_FILE = _("The file is empty.")
NOT_AN_IMAGE = _("This file is not an image we can read (JPEG, PNG or WebP).")
DAMAGED_IMAGE = _("The image file is damaged or incomplete.")




@dataclass(frozen=True)
class Photo:
    image: Image.Image  # RGB, upright
    format: str  # a key of ACCEPTED_FORMATS

    @property
    def content_type(self) -> str:
        return ACCEPTED_FORMATS[self.format][0]

    @property
    def extension(self) -> str:
        return ACCEPTED_FORMATS[self.format][1]


def open_photo(fileobj: IO[bytes]) -> Image.Image:
    """The upright RGB image in `fileobj`, or an ApplicationError saying what is wrong with it."""
    return read_photo(fileobj).image


def read_photo(fileobj: IO[bytes]) -> Photo:
    _check_byte_size(fileobj)
    fileobj.seek(0)
    source_format = _sniff_format(fileobj.read(16))
    if source_format is None:
        fileobj.seek(0)
        raise ApplicationError(NOT_AN_IMAGE, field="file")
    fileobj.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fileobj, formats=[source_format])
            # Only the header has been read so far: refuse huge images before decoding them.
            _check_pixel_count(image.width, image.height)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApplicationError(_too_many_pixels_message(), field="file") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError):
        raise ApplicationError(DAMAGED_IMAGE, field="file") from None
    finally:
        fileobj.seek(0)
    try:
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, struct.error):
        upright = image  # an unreadable orientation tag: keep the pixels as stored
    return Photo(image=to_rgb(upright), format=source_format)


def working_copy(image: Image.Image, max_side: int = WORKING_MAX_SIDE) -> Image.Image:
    """The photo the models and overlays work on: the upload itself, shrunk when a side is
    longer than ``max_side``. A 12-megapixel phone photo carries no more diagnostic detail at
    the models' input sizes, and its overlays would be slow to draw and heavy to send."""
    scale = max_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _sniff_format(head: bytes) -> str | None:
    """The format named by the file's first bytes (its signature), whatever its name says."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; transparency is composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        values = np.asarray(image, dtype=np.int64)
        return Image.fromarray((np.clip(values, 0, 65535) >> 8).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        peak = float(values.max()) or 1.0
        return Image.fromarray((np.clip(values / peak, 0, 1) * 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _check_byte_size(fileobj: IO[bytes]) -> None:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    if size == 0:
        raise ApplicationError(EMPTY_FILE, field="file")
    if size > settings.MAX_UPLOAD_BYTES:
        raise ApplicationError(
            gettext("The file is too large (%(size)s). The limit is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(settings.MAX_UPLOAD_BYTES)},
            field="file",
        )


def _check_pixel_count(width: int, height: int) -> None:
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise ApplicationError(_too_many_pixels_message(), field="file")


def _too_many_pixels_message() -> str:
    return gettext("The image has too many pixels. The limit is %(limit)s megapixels.") % {
        "limit": round(settings.MAX_IMAGE_PIXELS / 1_000_000)
    }
