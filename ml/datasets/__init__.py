"""Data set readers, chosen by name in a training config (``dataset:``)."""

from __future__ import annotations

from pathlib import Path

from ml.datasets import chest_xray, ct_series, ham10000, lidc, rsna
from ml.datasets.common import SPLITS, DatasetError, LabelledImage


def classes_and_reader(config: dict):
    """The class names and a ``read(split)`` returning that split's labelled images."""
    name = config.get("dataset")
    data_dir = Path(config["data_dir"])
    if name == "ham10000":
        return list(ham10000.CLASSES), lambda split: ham10000.read_images(data_dir, split)
    if name == "chest_xray":
        task = config.get("label_task", "pneumonia")
        if task not in chest_xray.TASKS:
            raise DatasetError(f"unknown label_task {task!r}; one of {', '.join(chest_xray.TASKS)}")
        return (list(chest_xray.TASKS[task]),
                lambda split: chest_xray.read_images(data_dir, task, split))
    if name == "lidc_nodules":
        return list(lidc.CLASSES), lambda split: lidc.read_images(data_dir, split)
    if name == "rsna":
        return list(rsna.CLASSES), lambda split: rsna.read_images(data_dir, split)
    if name == "ct_series":
        return list(ct_series.CLASSES), lambda split: ct_series.read_images(data_dir, split)
    raise DatasetError(f"unknown dataset {name!r}; one of ham10000, chest_xray, lidc_nodules, "
                       f"ct_series, rsna")


def labelled_splits(config: dict) -> tuple[list[str], dict[str, list[LabelledImage]]]:
    classes, read = classes_and_reader(config)
    return classes, {split: read(split) for split in SPLITS}


__all__ = ["DatasetError", "LabelledImage", "classes_and_reader", "labelled_splits"]
