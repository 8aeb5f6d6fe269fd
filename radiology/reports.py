"""The signed radiology report as a PDF: the radiologist's reading, the AI findings they
saw, the study's previews and the addenda after it (studies.reports renders it)."""

import logging

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from PIL import Image

from radiology.models import Report
from studies.models import Artifact, Study
from studies.reports import PLATFORM_NAME, html_to_pdf, image_data_uri, report_fonts

logger = logging.getLogger(__name__)


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


def render_signed_report_pdf(*, study: Study, report: Report) -> bytes:
    """The signed radiology report, in the study's language, with its addenda after it.

    `report` may be unsaved (it is rendered before the signing transaction) and then has
    no addenda yet. The AI findings come from the report's snapshot, never from the
    study's current result: the PDF says what the radiologist saw when signing.
    """
    addenda = list(report.addenda.all()) if report.pk else []
    with translation.override(study.language):
        html = render_to_string(
            "radiology/report_pdf.html",
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
    return html_to_pdf(html, what=f"the report of study {study.id}")


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
        images.append({"uri": image_data_uri(image), "caption": caption})
    return images
