import itertools

import numpy as np

from ml.ct_previews import montage, orthogonal_previews, windowed
from ml.volumes import Volume


def volume():
    hu = np.full((40, 64, 48), -1000.0, np.float32)
    hu[:, 16:48, 12:36] = -600.0  # "lung"
    hu += np.arange(40, dtype=np.float32)[:, None, None] * 10  # each slice a little denser
    return Volume(hu=hu, spacing=(2.5, 0.7, 0.7))


def test_lung_window_maps_its_level_to_grey_and_clips():
    assert windowed(np.array([-600.0]))[0] in (127, 128)
    assert windowed(np.array([-5000.0, 5000.0])).tolist() == [0, 255]


def test_planes_have_anatomical_proportions():
    previews = orthogonal_previews(volume())
    assert previews["axial"].size == (48, 64)
    # 40 slices x 2.5 mm = 100 mm tall; 0.7 mm pixels -> about 143 pixels
    assert previews["coronal"].size == (48, 143)
    assert previews["sagittal"].size == (64, 143)


def test_montage_spreads_slices_over_the_middle():
    sheet = montage(volume(), rows=2, columns=3, tile=32)
    assert sheet.size == (96, 64)
    tiles = [np.asarray(sheet)[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32].mean()
             for r in range(2) for c in range(3)]
    assert all(a < b for a, b in itertools.pairwise(tiles))  # distinct slices, in order
