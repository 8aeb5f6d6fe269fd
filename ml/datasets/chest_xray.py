"""The Kermany chest X-ray set in its published layout: ``<split>/{NORMAL,PNEUMONIA}/*.jpeg``.

Labels come from the folder (normal / pneumonia) and, for the three-class task, from the
file name of pneumonia images (``person1000_bacteria_2931.jpeg``, ``person1000_virus_1681``).
A patient often has several images, so splits are made by patient: ``personN`` for
pneumonia images, the name without its image counter for normal ones (``IM-0115-0001`` is
patient ``IM-0115``). The patient's split is a hash of that id, stable whatever is present.
"""

from __future__ import annotations

import re
from pathlib import Path

from ml.datasets.common import DatasetError, LabelledImage, split_of

FOLDERS = ("NORMAL", "PNEUMONIA")
TASKS = {
    "pneumonia": ("normal", "pneumonia"),
    "pneumonia-type": ("normal", "bacterial", "viral"),
}
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
_PERSON = re.compile(r"^(person\d+)_(bacteria|virus)_", re.IGNORECASE)
_COUNTER = re.compile(r"-\d+$")


def patient_id(path: Path) -> str:
    match = _PERSON.match(path.name)
    if match:
        return match.group(1).lower()
    return _COUNTER.sub("", path.stem)


def label_of(path: Path, task: str) -> str:
    if path.parent.name.upper() == "NORMAL":
        return "normal"
    if task == "pneumonia":
        return "pneumonia"
    match = _PERSON.match(path.name)
    if not match:
        raise DatasetError(f"{path}: a pneumonia image name must say bacteria or virus "
                           f"(personN_bacteria_M.jpeg) for the {task!r} task")
    return "bacterial" if match.group(2).lower() == "bacteria" else "viral"


def read_images(root: Path, task: str, split: str | None = None) -> list[LabelledImage]:
    """Labelled images of ``root`` (a folder holding NORMAL/ and PNEUMONIA/)."""
    if task not in TASKS:
        raise ValueError(f"unknown chest X-ray task {task!r}; one of {', '.join(TASKS)}")
    root = Path(root)
    missing = [f for f in FOLDERS if not (root / f).is_dir()]
    if missing:
        raise DatasetError(f"{root} lacks the folder(s) {', '.join(missing)} "
                           f"(expected NORMAL/ and PNEUMONIA/)")
    classes = TASKS[task]
    images = []
    for folder in FOLDERS:
        for path in sorted((root / folder).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            group = patient_id(path)
            if split is not None and split_of(group) != split:
                continue
            images.append(LabelledImage(path, classes.index(label_of(path, task)), group))
    if not images:
        raise DatasetError(f"{root}: no images found in NORMAL/ or PNEUMONIA/")
    return images
