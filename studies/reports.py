"""PDF reports, rendered from HTML templates with xhtml2pdf: the patient's skin report
(rendered by the worker) here, the signed radiology report in radiology.reports.

xhtml2pdf is pure Python, so rendering needs no system libraries. Text is set in DejaVu
Sans (shipped with matplotlib) because the built-in PDF fonts have no Cyrillic glyphs.
"""
import base64
import io
from functools import lru_cache
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from PIL import Image
from xhtml2pdf import pisa

from studies import assessability
from studies.models import Study, StudyResult

PLATFORM_NAME = _("Lesions")

# Report pictures are shrunk to this many pixels on the long side: sharp on paper,
# small and fast to embed.
REPORT_IMAGE_SIDE = 640


class ReportError(Exception):
    pass


@lru_cache(maxsize=1)
def report_fonts() -> dict[str, str]:
    import matplotlib  # noqa: PLC0415  only its font folder; importing it costs a second

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
    outline: Image.Image | None,
    heatmap: Image.Image | None,
) -> bytes:
    """The PDF for a finished analysis, in the study's language. `result` may be unsaved.
    A photo the models' input gate refused (``result.findings["gate"]``) has no outline
    and no heatmap: the report gives the reasons instead of a class."""
    refused = assessability.gate_codes(result.findings)
    with translation.override(study.language):
        html = render_to_string(
            "studies/report_pdf.html",
            {
                "study": study,
                "result": result,
                "fonts": report_fonts(),
                "photo_uri": image_data_uri(photo),
                "outline_uri": image_data_uri(outline) if outline else "",
                "heatmap_uri": image_data_uri(heatmap) if heatmap else "",
                "assessable": not refused,
                "reasons": assessability.reasons_for(refused) if refused else [],
                "reported_at": study.finished_at or timezone.now(),
                "photo_name": study.upload.original_name if study.upload else "",
            },
        )
    return html_to_pdf(html, what=f"study {study.id}")


def html_to_pdf(html: str, *, what: str) -> bytes:
    output = io.BytesIO()
    status = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if status.err:
        raise ReportError(f"xhtml2pdf reported {status.err} error(s) rendering {what}.")
    return output.getvalue()


def image_data_uri(image: Image.Image) -> str:
    scale = min(1.0, REPORT_IMAGE_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGB")
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
