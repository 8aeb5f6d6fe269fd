"""Data set readers, chosen by name in a training config (``dataset:``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ml.datasets import chest_xray, ct_series, ham10000, lidc, rsna
from ml.datasets.common import SPLITS, DatasetError, LabelledImage

SplitReader = Callable[[str], list[LabelledImage]]


def classes_and_reader(dataset: str, data_dir: Path,
                       label_task: str = "pneumonia") -> tuple[list[str], SplitReader]:
    """The class names and a ``read(split)`` returning that split's labelled images;
    ``label_task`` chooses the labels of ``chest_xray``."""
    data_dir = Path(data_dir)
    if dataset == "ham10000":
        return list(ham10000.CLASSES), lambda split: ham10000.read_images(data_dir, split)
    if dataset == "chest_xray":
        if label_task not in chest_xray.TASKS:
            raise DatasetError(f"unknown label_task {label_task!r}; one of {', '.join(chest_xray.TASKS)}")
        return (list(chest_xray.TASKS[label_task]),
                lambda split: chest_xray.read_images(data_dir, label_task, split))
    if dataset == "lidc_nodules":
        return list(lidc.CLASSES), lambda split: lidc.read_images(data_dir, split)
    if dataset == "rsna":
        return list(rsna.CLASSES), lambda split: rsna.read_images(data_dir, split)
    if dataset == "ct_series":
        return list(ct_series.CLASSES), lambda split: ct_series.read_images(data_dir, split)
    raise DatasetError(f"unknown dataset {dataset!r}; one of ham10000, chest_xray, lidc_nodules, "
                       f"ct_series, rsna")


def labelled_splits(dataset: str, data_dir: Path, label_task: str = "pneumonia"
                    ) -> tuple[list[str], dict[str, list[LabelledImage]]]:
    classes, read = classes_and_reader(dataset, data_dir, label_task)
    return classes, {split: read(split) for split in SPLITS}


__all__ = ["DatasetError", "LabelledImage", "classes_and_reader", "labelled_splits"]
