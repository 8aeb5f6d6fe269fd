import csv

import pytest

from ml.datasets import ham10000


def test_splits_are_lesion_disjoint_and_cover_every_image(ham_folder):
    splits = {s: ham10000.read_records(ham_folder, s) for s in ("train", "val", "test")}
    lesions = {s: {r.lesion_id for r in records} for s, records in splits.items()}
    assert not lesions["train"] & lesions["val"]
    assert not lesions["train"] & lesions["test"]
    assert not lesions["val"] & lesions["test"]
    assert sum(len(r) for r in splits.values()) == len(ham10000.read_records(ham_folder))


def test_split_of_is_stable_for_a_lesion_id():
    assert ham10000.split_of("HAM_0000118") == ham10000.split_of("HAM_0000118")
    shares = [ham10000.split_of(f"HAM_{i:07d}") for i in range(2000)]
    assert 0.65 < shares.count("train") / 2000 < 0.75


def test_missing_metadata_names_the_file(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(ham10000.DatasetError, match=r"metadata\.csv is missing"):
        ham10000.read_records(tmp_path)


def test_missing_column_is_named(ham_folder):
    path = ham_folder / "metadata.csv"
    rows = list(csv.reader(path.open()))
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([row[:2] for row in rows])
    with pytest.raises(ham10000.DatasetError, match=r"lacks the column.*dx"):
        ham10000.read_records(ham_folder)


def test_missing_image_is_named(ham_folder):
    first = ham10000.read_records(ham_folder)[0]
    ham10000.image_path(ham_folder, first.image_id).unlink()
    with pytest.raises(ham10000.DatasetError, match=first.image_id):
        ham10000.read_records(ham_folder)


def test_missing_mask_is_named(ham_folder):
    first = ham10000.read_records(ham_folder)[0]
    ham10000.mask_path(ham_folder, first.image_id).unlink()
    with pytest.raises(ham10000.DatasetError, match=r"_segmentation\.png is missing"):
        ham10000.load_mask(ham_folder, first.image_id)


def test_images_load_as_the_model_sees_them(ham_folder):
    from ml.datasets.common import load_images
    from ml.metadata import ModelMetadata

    items = ham10000.read_images(ham_folder)[:3]
    metadata = ModelMetadata(name="m", version="1", task="classification", architecture="a",
                             weights_file="w", classes=["x"], input_size=[12, 16])
    images = load_images([item.path for item in items], metadata)
    assert images.shape == (3, 12, 16, 3)
    assert images.dtype.name == "uint8"
    equalised = load_images([item.path for item in items],
                            ModelMetadata(**{**metadata.__dict__, "clahe": True}))
    assert equalised.shape == images.shape and not (equalised == images).all()
