"""What a pre-read hands back to the run: the result row, the artifact files it wrote (rows
not saved yet) and, for radiology, the AI urgency that orders the worklist."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from PIL import Image

from studies.models import Artifact, Study, StudyResult

URGENCY = {"urgent": Study.Urgency.URGENT, "routine": Study.Urgency.ROUTINE,
           "unknown": Study.Urgency.NOT_ASSESSED}


@dataclass
class Outcome:
    result: StudyResult
    artifacts: list[Artifact]  # files written, rows not saved yet
    urgency: int | None  # None for a skin photo (its advice comes from the probabilities)
    assessable: bool = True  # False: the input gate refused the image; the result has no class

    @property
    def status(self) -> str:
        return Study.Status.DONE if self.assessable else Study.Status.NOT_ASSESSABLE


def gate_findings(gate) -> dict:
    """The input gate's verdict as stored in StudyResult.findings["gate"]."""
    return {"assessable": bool(gate.assessable), "reasons": list(gate.reasons),
            "scores": {name: round(float(value), 4) for name, value in gate.scores.items()}}


def write_artifacts(study: Study, written: list[str], contents: dict[str, tuple[str, bytes]]) -> list[Artifact]:
    """Store each file as an Artifact of ``study`` (row not saved); every stored name is
    appended to ``written`` so that the run can delete them if storing the outcome fails."""
    artifacts = []
    for kind, (name, data) in contents.items():
        artifact = Artifact(study=study, kind=kind)
        artifact.file.save(name, ContentFile(data), save=False)
        written.append(artifact.file.name)
        artifacts.append(artifact)
    return artifacts


def encoded(image: Image.Image, image_format: str) -> bytes:
    """Overlays are photographs with drawing on them: JPEG at high quality is a tenth of the
    size of a PNG and a hundred times faster to encode. Display images and previews that a
    radiologist reads stay lossless (PNG)."""
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
    else:
        image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def rounded(timings: dict) -> dict:
    return {stage: round(float(seconds), 4) for stage, seconds in timings.items()}


def model_list(models) -> list[dict[str, str]]:
    return [{"name": model.name, "version": model.version} for model in models]
