"""The PDF report, rendered by the worker from an HTML template with xhtml2pdf.

xhtml2pdf is pure Python, so rendering needs no system libraries. Text is set in DejaVu
Sans (shipped with matplotlib) because the built-in PDF fonts have no Cyrillic glyphs.
"""
import base64
import io
import logging
from functools import lru_cache
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from PIL import Image
from xhtml2pdf import pisa

from diagnosis.models import Artifact, Report, Study, StudyResult

logger = logging.getLogger(__name__)

PLATFORM_NAME = _("Lesions")

# Report pictures are shrunk to this many pixels on the long side: sharp on paper,
# small and fast to embed.
REPORT_IMAGE_SIDE = 640


class ReportError(Exception):
    pass


@lru_cache(maxsize=1)
def report_fonts() -> dict[str, str]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    fonts = {"regular": folder / "DejaVuSans.ttf", "bold": folder / "DejaVuSans-Bold.ttf"}
    for path in fonts.values():
        if not path.is_file():
            raise ReportError(f"Report font {path} is missing.")
    return {style: str(path) for style, path in fonts.items()}


def render_report_pdf(
    *,
    study: Study,
    result: StudyResult,
    photo: Image.Image,
    outline: Image.Image,
    heatmap: Image.Image,
) -> bytes:
    """The PDF for a finished analysis, in the study's language. `result` may be unsaved."""
    with translation.override(study.language):
        html = render_to_string(
            "diagnosis/report_pdf.html",
            {
                "study": study,
                "result": result,
                "fonts": report_fonts(),
                "photo_uri": _image_data_uri(photo),
                "outline_uri": _image_data_uri(outline),
                "heatmap_uri": _image_data_uri(heatmap),
                "reported_at": study.finished_at or timezone.now(),
                "photo_name": study.upload.original_name if study.upload else "",
            },
        )
    output = io.BytesIO()
    status = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if status.err:
        raise ReportError(f"xhtml2pdf reported {status.err} error(s) rendering study {study.id}.")
    return output.getvalue()


def _image_data_uri(image: Image.Image) -> str:
    scale = min(1.0, REPORT_IMAGE_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGB")
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Preview artifacts shown in a radiology report, in this order, with their captions.
RADIOLOGY_REPORT_IMAGES = {
    Study.Kind.CHEST_XRAY: (
        (Artifact.Kind.IMAGE, _("X-ray")),
        (Artifact.Kind.HEATMAP, _("Heatmap: where the model looked")),
    ),
    Study.Kind.CT: (
        (Artifact.Kind.AXIAL, _("Axial")),
        (Artifact.Kind.CORONAL, _("Coronal")),
        (Artifact.Kind.SAGITTAL, _("Sagittal")),
        (Artifact.Kind.MONTAGE, _("Montage")),
    ),
}


def render_radiology_report_pdf(*, study: Study, report: Report) -> bytes:
    """The signed radiology report, in the study's language, with its addenda after it.

    `report` may be unsaved (it is rendered before the signing transaction) and then has
    no addenda yet. The AI findings come from the report's snapshot, never from the
    study's current result: the PDF says what the radiologist saw when signing.
    """
    addenda = list(report.addenda.all()) if report.pk else []
    with translation.override(study.language):
        html = render_to_string(
            "diagnosis/radiology_report_pdf.html",
            {
                "study": study,
                "report": report,
                "ai": report.ai_findings or {},
                "addenda": addenda,
                "images": _study_images(study),
                "fonts": report_fonts(),
                "platform_name": PLATFORM_NAME,
            },
        )
    output = io.BytesIO()
    status = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if status.err:
        raise ReportError(f"xhtml2pdf reported {status.err} error(s) rendering the report of study {study.id}.")
    return output.getvalue()


def _study_images(study: Study) -> list[dict]:
    """[{"uri", "caption"}] for the study's stored previews; a missing or unreadable one is left out."""
    stored = {artifact.kind: artifact for artifact in study.artifacts.all()}
    images = []
    for kind, caption in RADIOLOGY_REPORT_IMAGES.get(study.kind, ()):
        artifact = stored.get(kind)
        if artifact is None:
            continue
        try:
            with artifact.file.open("rb") as handle:
                image = Image.open(handle)
                image.load()
        except (OSError, ValueError):
            logger.warning("Study %s: the %s preview cannot be read for the report", study.id, kind)
            continue
        images.append({"uri": _image_data_uri(image), "caption": caption})
    return images
