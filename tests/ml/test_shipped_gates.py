"""The shipped models' input gates: what they must refuse, drawn here, and (with the shared
data beside the checkout) real images of their own kind that they must let through."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml.chest import analyse_radiograph
from ml.installed import DEFAULT_WEIGHTS_DIR
from ml.skin import analyse_skin_photo

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def stripes() -> Image.Image:
    image = Image.new("RGB", (640, 480), (20, 60, 200))
    draw = ImageDraw.Draw(image)
    for x in range(0, 640, 40):
        draw.rectangle([x, 0, x + 19, 480], fill=(40, 220, 60))
    return image


def plain_skin() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(np.clip(np.array([230, 190, 170]) + rng.normal(0, 6, (450, 600, 3)), 0, 255)
                           .astype(np.uint8))


def drawn_chest() -> Image.Image:
    rows, columns = np.mgrid[0:400, 0:320]
    lungs = ((rows - 200) ** 2 / 160 ** 2 + (np.abs(columns - 160) - 76) ** 2 / 60 ** 2) < 1
    return Image.fromarray(np.where(lungs, 40, 200).astype(np.uint8)).convert("RGB")


@pytest.mark.parametrize(("name", "image", "reason"), [
    ("black", Image.new("RGB", (640, 480)), "too_dark"),
    ("stripes", stripes(), "not_a_lesion"),
    ("plain skin, no lesion", plain_skin(), "no_lesion"),
    ("a drawn chest film", drawn_chest(), None),
])
def test_the_skin_gate_refuses_what_is_not_a_lesion_photo(name, image, reason):
    analysis = analyse_skin_photo(image, weights_dir=DEFAULT_WEIGHTS_DIR)
    assert not analysis.gate.assessable, (name, analysis.gate)
    assert reason is None or reason in analysis.gate.reasons, (name, analysis.gate)
    assert analysis.top_class == "" and analysis.probabilities == {} and analysis.heatmap is None


@pytest.mark.parametrize(("name", "image"), [
    ("stripes", stripes()), ("a skin photo", plain_skin()),
    ("noise", Image.fromarray(np.random.default_rng(1).integers(0, 255, (512, 512), dtype=np.uint8))),
])
def test_the_xray_gate_refuses_what_is_not_a_chest_film(name, image):
    analysis = analyse_radiograph(image, weights_dir=DEFAULT_WEIGHTS_DIR)
    assert analysis.gate.reasons == ["not_a_chest_radiograph"], name
    assert analysis.heatmap is None and np.isnan(analysis.pneumonia_probability)


def _shared(folder: str, pattern: str, count: int) -> list[Path]:
    paths = sorted((SHARED / folder).glob(pattern))[:count]
    if not paths:
        pytest.skip(f"../shared/data/{folder} is not beside this checkout")
    return paths


def test_real_lesion_photos_and_chest_films_pass_their_gates():
    photos = _shared("ham10000_600/images", "*.jpg", 10)
    films = _shared("chest_xray_fullres/NORMAL", "*.jpeg", 5) + _shared("chest_xray_fullres/PNEUMONIA", "*.jpeg", 5)
    accepted_photos = sum(analyse_skin_photo(Image.open(p).convert("RGB"), weights_dir=DEFAULT_WEIGHTS_DIR)
                          .gate.assessable for p in photos)
    accepted_films = sum(analyse_radiograph(Image.open(p), weights_dir=DEFAULT_WEIGHTS_DIR)
                         .gate.assessable for p in films)
    assert accepted_photos >= 9 and accepted_films >= 9, (accepted_photos, accepted_films)
