"""The worker's pre-read of X-rays and CT with the shipped models, through the same service
the Celery task calls: results, artifacts for the viewer, AI urgency, and marked nodules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from radiology import nodules
from radiology.models import Nodule
from radiology.viewing import viewer_context
from studies.analysis import run
from studies.intake.scans import radiology_studies_create
from studies.models import Artifact, Study
from tests.dicom_files import write_ct_series, write_radiograph
from tests.ml.model_fixtures import ungated_copy

SHIPPED_WEIGHTS = Path(django_settings.BASE_DIR) / "ml" / "weights"


@pytest.fixture
def shipped_weights(settings, tmp_path) -> Path:
    """The shipped models with their input gates off: the films here are drawn, and these
    tests are about the pipeline (tests/studies/test_not_assessable.py is about the gate)."""
    settings.ML_WEIGHTS_DIR = ungated_copy(SHIPPED_WEIGHTS, tmp_path / "weights")
    return settings.ML_WEIGHTS_DIR


def sent(user, kind: str, paths: list[Path]) -> Study:
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
    (study,) = radiology_studies_create(owner=user, kind=kind, uploads=files, language="en")
    return study


def analysed(study: Study) -> Study:
    run.analyse_study(study_id=study.id)
    study.refresh_from_db()
    return study


def chest(tmp_path: Path) -> Path:
    rows, columns = np.mgrid[0:200, 0:160]
    lungs = ((rows - 100) ** 2 / 80 ** 2 + (np.abs(columns - 80) - 38) ** 2 / 30 ** 2) < 1
    pixels = np.where(lungs, 40, 200).astype(np.uint8)
    return write_radiograph(tmp_path / "chest.dcm", pixels, photometric="MONOCHROME1")


def ct_series(tmp_path: Path) -> list[Path]:
    hu = np.full((24, 64, 64), -850.0, dtype=np.float32)
    z, y, x = np.mgrid[0:24, 0:64, 0:64]
    hu[((z - 12) * 2.5) ** 2 + ((y - 30) * 0.7) ** 2 + ((x - 34) * 0.7) ** 2 < 36] = 30.0
    return write_ct_series(tmp_path / "ct", hu, spacing=(2.5, 0.7, 0.7))


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_xray_preread_stores_findings_overlays_and_urgency(users, shipped_weights, tmp_path):
    study = analysed(sent(users.clinician, "chest_xray", [chest(tmp_path)]))
    assert study.status == Study.Status.DONE, study.failure_reason
    result = study.result
    assert result.top_class in {"normal", "pneumonia"}
    assert abs(sum(result.probabilities.values()) - 1) < 1e-6
    pneumonia = result.findings["pneumonia"]
    assert pneumonia["positive"] == (pneumonia["probability"] >= pneumonia["threshold"])
    expected = Study.Urgency.URGENT if pneumonia["positive"] else Study.Urgency.ROUTINE
    assert study.urgency == expected
    assert set(result.findings["pneumonia_type"]) == {"normal", "bacterial", "viral"}
    assert {m["name"] for m in result.models} >= {"pneumonia", "pneumonia-type"}
    assert "lung-opacity-boxes" in result.findings["not_installed"] and result.findings["boxes"] is None
    kinds = set(study.artifacts.values_list("kind", flat=True))
    assert kinds == {Artifact.Kind.IMAGE, Artifact.Kind.HEATMAP, Artifact.Kind.HEATMAP_LAYER}
    viewer = viewer_context(study, request_for(users.radiologist))
    assert viewer["attrs"]["data-kind"] == "xray"
    assert viewer["attrs"]["data-image-url"].endswith("/files/image")
    assert viewer["attrs"]["data-boxes"] == "[]"


def test_ct_preread_builds_the_viewer_volume_and_previews(users, shipped_weights, tmp_path):
    study = analysed(sent(users.clinician, "ct", ct_series(tmp_path)))
    assert study.status == Study.Status.DONE, study.failure_reason
    volume = study.result.findings["volume"]
    assert volume["original_shape"] == [24, 64, 64] and volume["shape"] == [24, 64, 64]
    # ct-pathology is not installed: no invented finding, and the study is not triaged
    assert study.result.top_class == "" and study.result.probabilities == {}
    assert "ct-pathology" in study.result.findings["not_installed"]
    assert study.urgency == Study.Urgency.NOT_ASSESSED
    stored = study.artifacts.get(kind=Artifact.Kind.VOLUME)
    raw = np.frombuffer(stored.file.read(), dtype="<i2").reshape(volume["shape"])
    assert raw[12, 30, 34] > -100 and raw[0, 0, 0] < -800
    assert {"axial", "coronal", "sagittal", "montage"} <= set(study.artifacts.values_list("kind", flat=True))
    viewer = viewer_context(study, request_for(users.radiologist))
    assert viewer["attrs"]["data-mark"] == "true" and viewer["attrs"]["data-shape"] == "[24, 64, 64]"
    # a clinician's view has no viewer: they read the final report only
    assert viewer_context(study, request_for(users.clinician)) is None


def test_marked_nodule_is_scored_with_a_gradcam(users, shipped_weights, tmp_path):
    study = analysed(sent(users.clinician, "ct", ct_series(tmp_path)))
    nodule = nodules.nodule_mark(user=users.radiologist, study=study, point=(12, 30, 34))
    nodules.score_nodule(nodule_id=nodule.id)
    nodule.refresh_from_db()
    assert nodule.status == Nodule.Status.DONE, nodule.failure_reason
    assert 0.0 <= nodule.probability <= 1.0 and nodule.model["name"] == "nodule-malignancy"
    assert nodule.threshold == pytest.approx(0.12298894673585892)
    assert nodule.heatmap.read(8) == b"\x89PNG\r\n\x1a\n"
    assert (nodule.z, nodule.y, nodule.x) == (12, 30, 34)


def test_nodules_are_for_radiologists_on_built_volumes(users, shipped_weights, tmp_path):
    from django.core.exceptions import PermissionDenied, ValidationError

    study = sent(users.clinician, "ct", ct_series(tmp_path))
    with pytest.raises(ValidationError):
        nodules.nodule_mark(user=users.radiologist, study=study, point=(1, 1, 1))
    study = analysed(study)
    with pytest.raises(PermissionDenied):
        nodules.nodule_mark(user=users.clinician, study=study, point=(1, 1, 1))
    with pytest.raises(ValidationError):
        nodules.nodule_mark(user=users.radiologist, study=study, point=(24, 1, 1))
    assert not Nodule.objects.exists()


def test_missing_model_fails_the_preread_but_keeps_the_study_in_the_worklist(users, tmp_path):
    study = analysed(sent(users.clinician, "chest_xray", [chest(tmp_path)]))
    assert study.status == Study.Status.FAILED
    assert "not installed" in study.failure_reason
    assert study.review == Study.Review.AWAITING and study.urgency == Study.Urgency.NOT_ASSESSED


def test_nodule_model_missing_is_recorded_on_the_nodule(users, shipped_weights, settings, tmp_path):
    study = analysed(sent(users.clinician, "ct", ct_series(tmp_path)))
    nodule = nodules.nodule_mark(user=users.radiologist, study=study, point=(12, 30, 34))
    settings.ML_WEIGHTS_DIR = tmp_path / "empty"
    nodules.score_nodule(nodule_id=nodule.id)
    nodule.refresh_from_db()
    assert nodule.status == Nodule.Status.FAILED and "not installed" in nodule.failure_reason
