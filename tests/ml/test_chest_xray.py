from pathlib import Path

import pytest

from ml.datasets import chest_xray
from ml.datasets.common import DatasetError, split_of


def test_patient_ids_follow_the_file_names():
    assert chest_xray.patient_id(Path("PNEUMONIA/person1000_bacteria_2931.jpeg")) == "person1000"
    assert chest_xray.patient_id(Path("PNEUMONIA/person1000_virus_1681.jpeg")) == "person1000"
    assert chest_xray.patient_id(Path("NORMAL/IM-0115-0001.jpeg")) == "IM-0115"
    assert chest_xray.patient_id(Path("NORMAL/NORMAL2-IM-1427-0001.jpeg")) == "NORMAL2-IM-1427"


def test_labels_for_both_tasks(chest_folder):
    binary = chest_xray.read_images(chest_folder, "pneumonia")
    assert {i.label for i in binary if i.path.parent.name == "NORMAL"} == {0}
    assert {i.label for i in binary if i.path.parent.name == "PNEUMONIA"} == {1}
    typed = {i.path.name: i.label for i in chest_xray.read_images(chest_folder, "pneumonia-type")}
    assert typed["person1_bacteria_0.jpeg"] == 1 and typed["person0_virus_0.jpeg"] == 2
    assert typed["IM-0000-0001.jpeg"] == 0


def test_a_patient_never_spans_two_splits(chest_folder):
    seen = {}
    for split in ("train", "val", "test"):
        for item in chest_xray.read_images(chest_folder, "pneumonia", split):
            assert seen.setdefault(item.group, split) == split == split_of(item.group)
    assert len(seen) == 24  # 12 normal patients and 12 with pneumonia


def test_a_wrong_layout_names_what_is_missing(tmp_path):
    (tmp_path / "NORMAL").mkdir()
    with pytest.raises(DatasetError, match="PNEUMONIA"):
        chest_xray.read_images(tmp_path, "pneumonia")


def test_a_pneumonia_image_without_its_kind_is_refused_for_the_type_task(chest_folder):
    (chest_folder / "PNEUMONIA" / "scan.jpeg").write_bytes(
        (chest_folder / "PNEUMONIA" / "person0_virus_0.jpeg").read_bytes())
    assert len(chest_xray.read_images(chest_folder, "pneumonia")) == 49
    with pytest.raises(DatasetError, match="bacteria or virus"):
        chest_xray.read_images(chest_folder, "pneumonia-type")
