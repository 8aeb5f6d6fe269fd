"""Image files built in memory for upload tests: good ones and deliberately bad ones."""
import io
from functools import cache

import numpy as np
from PIL import Image


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def jpeg_bytes(size: tuple[int, int] = (96, 64), exif_orientation: int | None = None) -> bytes:
    buffer = io.BytesIO()
    options = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation  # Orientation
        options["exif"] = exif
    _noise(size).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def png_rgba_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    image = Image.new("RGBA", size, (255, 0, 0, 0))  # fully transparent red
    image.putpixel((0, 0), (0, 0, 255, 255))  # one opaque blue pixel
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_jpeg_bytes() -> bytes:
    data = jpeg_bytes((256, 256))
    return data[: len(data) // 2]


def text_bytes() -> bytes:
    return b"This is a plain text file pretending to be a photo.\n" * 20


@cache
def giant_png_bytes(side: int = 20000) -> bytes:
    """A side x side 1-bit PNG: huge in pixels, a few KB on disk."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


# (name, bytes, expected message) for uploads that must be refused
def bad_uploads() -> list[tuple[str, bytes, str]]:
    return [
        ("notes.jpg", text_bytes(), "This file is not an image we can read (JPEG, PNG or WebP)."),
        ("cut.jpg", truncated_jpeg_bytes(), "The image file is damaged or incomplete."),
        ("empty.jpg", b"", "The file is empty."),
        ("giant.png", giant_png_bytes(), "The image has too many pixels. The limit is 40 megapixels."),
        ("anim.gif", gif_bytes(), "This file is not an image we can read (JPEG, PNG or WebP)."),
    ]
