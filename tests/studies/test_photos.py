import io

import pytest
from PIL import Image

from lesions_project.errors import ApplicationError
from studies.intake.photos import open_photo, read_photo
from tests import images

BAD_UPLOADS = images.bad_uploads()


@pytest.mark.parametrize(("name", "data", "message"), BAD_UPLOADS, ids=[name for name, _, _ in BAD_UPLOADS])
def test_bad_files_are_refused_with_a_plain_message(name, data, message):
    with pytest.raises(ApplicationError) as caught:
        open_photo(io.BytesIO(data))
    assert str(caught.value) == message


def test_pixel_limit_is_checked_before_decoding(settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000
    # 1200 x 1200 = 1.44 MP: far below Pillow's own bomb limit, so only our check refuses it.
    buffer = io.BytesIO()
    Image.new("1", (1200, 1200)).save(buffer, format="PNG")
    with pytest.raises(ApplicationError, match=r"too many pixels\. The limit is 1 megapixels"):
        open_photo(buffer)


def test_giant_png_is_refused_without_decoding_it():
    data = images.giant_png_bytes()
    assert len(data) < 200_000  # a 400-megapixel image in a small file
    with pytest.raises(ApplicationError, match="too many pixels"):
        open_photo(io.BytesIO(data))


def test_byte_size_limit(settings):
    settings.MAX_UPLOAD_BYTES = 1000
    data = images.jpeg_bytes((64, 64))
    assert len(data) > 1000
    with pytest.raises(ApplicationError, match="The file is too large"):
        open_photo(io.BytesIO(data))


def test_rgba_png_is_accepted_and_composited_on_white():
    photo = read_photo(io.BytesIO(images.png_rgba_bytes()))
    assert photo.format == "PNG"
    assert photo.content_type == "image/png"
    assert photo.image.mode == "RGB"
    assert photo.image.getpixel((5, 5)) == (255, 255, 255)  # transparent becomes white
    assert photo.image.getpixel((0, 0)) == (0, 0, 255)


def test_exif_orientation_is_applied():
    photo = open_photo(io.BytesIO(images.jpeg_bytes((96, 64), exif_orientation=6)))
    assert photo.size == (64, 96)  # rotated upright: width and height swapped
    assert photo.mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "LA", "CMYK"])
def test_other_modes_become_rgb(mode):
    image = Image.new(mode, (10, 8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if mode == "CMYK" else "PNG")
    result = open_photo(buffer)
    assert result.mode == "RGB" and result.size == (10, 8)


def test_webp_is_accepted():
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (10, 200, 30)).save(buffer, format="WEBP")
    photo = read_photo(buffer)
    assert photo.content_type == "image/webp"
    assert photo.image.size == (20, 10)


def test_garbage_behind_an_image_signature_is_damaged_not_a_crash():
    # Also guards against PIL.Image.open replacements (ultralytics patches it when imported).
    with pytest.raises(ApplicationError) as caught:
        open_photo(io.BytesIO(b"\xff\xd8\xff" + b"garbage" * 50))
    assert str(caught.value) == "The image file is damaged or incomplete."


def test_working_copy_shrinks_only_large_photos():
    from PIL import Image

    from studies.intake.photos import WORKING_MAX_SIDE, working_copy

    small = Image.new("RGB", (600, 450))
    assert working_copy(small) is small
    large = working_copy(Image.new("RGB", (4000, 3000)))
    assert max(large.size) == WORKING_MAX_SIDE and large.size == (1600, 1200)
