from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from lesions_project.celery import app as celery_app
from lesions_project.errors import ApplicationError
from studies import services
from studies.analysis import run, state
from studies.models import Artifact, Study, StudyFile, StudyResult
from tests import images
from tests.conftest import photo_upload

pytestmark = pytest.mark.django_db


def stored_files(media_root: Path) -> list[Path]:
    return sorted(path for path in media_root.rglob("*") if path.is_file())


def test_study_create_stores_the_photo_and_queues_on_commit(users, settings, broker_dir, django_capture_on_commit_callbacks):
    upload = photo_upload(images.png_rgba_bytes(), name="My mole.JPG")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=upload, language="ru")
    assert len(callbacks) == 1  # queued only once the rows are committed

    study.refresh_from_db()
    assert study.status == Study.Status.QUEUED
    assert study.language == "ru"
    study_file = study.files.get()
    assert study_file.original_name == "My mole.JPG"
    assert study_file.content_type == "image/png"  # from the content, not the name
    assert study_file.size == len(images.png_rgba_bytes())
    assert len(study_file.sha256) == 64
    assert study_file.file.name.startswith(f"studies/{study.id}/upload/")
    assert study_file.file.name.endswith(".png")
    assert "mole" not in study_file.file.name
    assert default_storage.exists(study_file.file.name)

    # Running the callback puts a message for the worker on the (test) broker.
    queue = broker_dir / "in"
    before = set(queue.iterdir())
    callbacks[0]()
    messages = set(queue.iterdir()) - before
    assert len(messages) == 1
    assert str(study.id) in next(iter(messages)).read_text()
    for message in messages:
        message.unlink()


def test_study_create_with_a_bad_image_stores_nothing(users, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(ApplicationError):
        services.study_create(
            owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(images.text_bytes()), language="en"
        )
    assert callbacks == []
    assert Study.objects.count() == 0 and StudyFile.objects.count() == 0
    assert stored_files(Path(settings.MEDIA_ROOT)) == []


def test_study_create_leaves_no_file_when_saving_fails(users, settings, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(StudyFile, "save", broken_save)
    with pytest.raises(RuntimeError):
        services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(), language="en")
    assert Study.objects.count() == 0
    assert stored_files(Path(settings.MEDIA_ROOT)) == []


def test_study_create_refuses_kinds_that_cannot_be_analysed(users):
    with pytest.raises(ValueError, match="X-rays and CT"):
        services.study_create(owner=users.patient_a, kind=Study.Kind.CT, upload=photo_upload(), language="en")


def test_study_analyse_end_to_end(analysed_study):
    study = Study.objects.get(id=analysed_study.id)
    assert study.status == Study.Status.DONE
    assert study.stage == "" and study.failure_reason == ""
    assert study.started_at is not None and study.finished_at >= study.started_at

    result = study.result
    assert set(result.probabilities) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.top_class == max(result.probabilities, key=result.probabilities.get)
    assert 0.0 <= result.lesion_area_fraction <= 1.0
    assert {m["name"] for m in result.models} == {"skin-classifier", "skin-segmenter"}
    assert all(m["version"] == "0.0.0-test" for m in result.models)
    assert set(result.findings["timings"]) >= {"classification", "segmentation", "gradcam", "overlays", "report", "saving"}

    artifacts = {a.kind: a for a in study.artifacts.all()}
    assert set(artifacts) == {Artifact.Kind.OUTLINE, Artifact.Kind.HEATMAP, Artifact.Kind.REPORT_PDF}
    for artifact in artifacts.values():
        assert artifact.file.name.startswith(f"studies/{study.id}/artifacts/")
        assert Path(artifact.file.path).stat().st_size > 0
    assert artifacts[Artifact.Kind.REPORT_PDF].file.open("rb").read(5) == b"%PDF-"
    assert artifacts[Artifact.Kind.OUTLINE].file.name.endswith(".jpg")


def test_study_analyse_again_replaces_the_result(analysed_study, settings, django_capture_on_commit_callbacks):
    old_names = set(analysed_study.artifacts.values_list("file", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        run.analyse_study(study_id=analysed_study.id)

    assert StudyResult.objects.filter(study=analysed_study).count() == 1
    assert analysed_study.artifacts.count() == 3
    new_names = set(analysed_study.artifacts.values_list("file", flat=True))
    assert new_names.isdisjoint(old_names)
    # the replaced files are gone from storage: only the photo and 3 artifacts remain
    assert len(stored_files(Path(settings.MEDIA_ROOT))) == 4
    assert not any(default_storage.exists(name) for name in old_names)


def test_study_analyse_without_weights_fails_with_model_not_installed(queued_study, settings, tmp_path):
    settings.ML_WEIGHTS_DIR = tmp_path / "empty-weights"
    run.analyse_study(study_id=queued_study.id)
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    assert queued_study.failure_reason == (
        "The analysis model is not installed on this server; no result was produced."
    )
    assert queued_study.finished_at is not None
    assert queued_study.artifacts.count() == 0
    assert not StudyResult.objects.filter(study=queued_study).exists()


def test_study_analyse_failure_reason_is_in_the_study_language(users, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.ML_WEIGHTS_DIR = tmp_path / "empty-weights"
    with django_capture_on_commit_callbacks(execute=False):
        study = services.study_create(owner=users.patient_a, kind=Study.Kind.SKIN_PHOTO, upload=photo_upload(), language="ru")
    run.analyse_study(study_id=study.id)
    study.refresh_from_db()
    assert study.status == Study.Status.FAILED
    assert "Модель анализа не установлена" in study.failure_reason


def test_study_analyse_with_a_damaged_stored_photo_fails_with_that_message(queued_study, ml_weights):
    stored = queued_study.upload.file
    with open(stored.path, "wb") as handle:
        handle.write(images.truncated_jpeg_bytes())
    run.analyse_study(study_id=queued_study.id)
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    assert queued_study.failure_reason == "The image file is damaged or incomplete."


def test_study_analyse_unexpected_error_fails_with_a_generic_reason(queued_study, ml_weights, caplog):
    queued_study.upload.file.storage.delete(queued_study.upload.file.name)  # the photo vanished
    run.analyse_study(study_id=queued_study.id)
    queued_study.refresh_from_db()
    assert queued_study.status == Study.Status.FAILED
    assert queued_study.failure_reason.startswith("Something went wrong while analysing this photo")
    assert "analysis failed" in caplog.text  # the traceback is logged for the operators


def test_study_analyse_of_a_deleted_study_does_nothing(queued_study, ml_weights, settings, django_capture_on_commit_callbacks):
    study_id = queued_study.id
    with django_capture_on_commit_callbacks(execute=True):
        services.study_delete(study=queued_study)
        run.analyse_study(study_id=study_id)  # a late, redelivered task
    assert not Study.objects.filter(id=study_id).exists()
    assert stored_files(Path(settings.MEDIA_ROOT)) == []


def test_progress_stages_are_recorded(queued_study, ml_weights, monkeypatch):
    seen = []
    original = state.set_stage

    def recording(study_id, stage):
        seen.append(stage)
        original(study_id, stage)

    monkeypatch.setattr(state, "set_stage", recording)
    run.analyse_study(study_id=queued_study.id)
    assert seen[:3] == ["classification", "segmentation", "gradcam"]
    assert seen[3:] == ["overlays", "report", "saving"]


def test_study_delete_removes_rows_and_files(analysed_study, settings, django_capture_on_commit_callbacks):
    media_root = Path(settings.MEDIA_ROOT)
    assert len(stored_files(media_root)) == 4
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.study_delete(study=analysed_study)
    assert len(callbacks) == 1  # files go only after the delete is committed
    assert not Study.objects.filter(id=analysed_study.id).exists()
    assert StudyFile.objects.count() == 0 and Artifact.objects.count() == 0
    assert stored_files(media_root) == []
    assert not (media_root / "studies" / str(analysed_study.id)).exists()


def test_celery_task_is_registered():
    assert "studies.analyse_study" in celery_app.tasks
