import io

import pypdf
import pytest
from PIL import Image

from studies.advice import class_name
from studies.models import Artifact, Study, StudyResult
from studies.reports import render_report_pdf

pytestmark = pytest.mark.django_db

PROBABILITIES = {"akiec": 0.02, "bcc": 0.05, "bkl": 0.08, "df": 0.01, "mel": 0.62, "nv": 0.2, "vasc": 0.02}


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def render(study: Study) -> bytes:
    result = StudyResult(
        study=study,
        top_class="mel",
        probabilities=PROBABILITIES,
        lesion_area_fraction=0.137,
        models=[{"name": "skin-classifier", "version": "2.1.0"}, {"name": "skin-segmenter", "version": "1.4.2"}],
    )
    photo = Image.new("RGB", (1200, 900), (190, 140, 120))
    return render_report_pdf(study=study, result=result, photo=photo, outline=photo, heatmap=photo)


def test_report_of_an_analysed_study_has_the_findings(analysed_study):
    result = analysed_study.result
    report = analysed_study.artifacts.get(kind=Artifact.Kind.REPORT_PDF)
    text = pdf_text(report.file.open("rb").read())
    assert class_name(result.top_class) in text
    assert f"{result.top_probability * 100:.1f} %" in text
    assert "0.0.0-test" in text and "skin-classifier" in text and "skin-segmenter" in text
    assert "This is decision support produced by a computer model, not a diagnosis. Please see a doctor." in text


def test_report_lists_all_probabilities_and_advice(users):
    study = Study(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, language="en")
    text = pdf_text(render(study))
    assert "Melanoma — 62.0 %" in text
    for name, percent in [("Melanocytic nevus (mole)", "20.0 %"), ("Benign keratosis", "8.0 %"),
                          ("Basal cell carcinoma", "5.0 %"), ("Dermatofibroma", "1.0 %")]:
        assert name in text and percent in text
    assert "Actinic keratosis / intraepithelial carcinoma" in text and "Vascular lesion" in text
    assert "See a dermatologist soon (within two weeks)" in text
    assert "Lesion share of the image: 13.7 %" in text
    assert "skin-classifier 2.1.0" in text and "skin-segmenter 1.4.2" in text


def test_report_in_russian_embeds_a_cyrillic_font(users):
    study = Study(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, language="ru")
    data = render(study)
    text = pdf_text(data)
    assert "Меланома" in text
    assert "62,0 %" in text
    assert "дерматолог" in text
    assert "не диагноз" in text
    fonts = {
        str(font["/BaseFont"])
        for page in pypdf.PdfReader(io.BytesIO(data)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("DejaVuSans" in font for font in fonts)
