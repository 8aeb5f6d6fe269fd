"""Studies: what a user uploaded, what the worker is doing with it, and what it produced.

A skin photo is one StudyFile; a CT series later has many. Files are private and stored
under generated names; the original file name is kept as data only.
"""
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def study_upload_path(instance: "StudyFile", filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    return f"studies/{instance.study_id}/upload/{uuid.uuid4().hex}{suffix}"


def study_artifact_path(instance: "Artifact", filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    return f"studies/{instance.study_id}/artifacts/{uuid.uuid4().hex}{suffix}"


class Study(models.Model):
    class Kind(models.TextChoices):
        SKIN_PHOTO = "skin_photo", _("Skin photo")
        CHEST_XRAY = "chest_xray", _("Chest X-ray")
        CT = "ct", _("CT series")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting in the queue")
        PROCESSING = "processing", _("Being analysed")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Stage(models.TextChoices):
        """What the worker is doing right now, shown to the user while they wait."""

        LOADING = "loading", _("Opening the photo")
        CLASSIFICATION = "classification", _("Classifying the lesion")
        SEGMENTATION = "segmentation", _("Outlining the lesion")
        GRADCAM = "gradcam", _("Computing the heatmap")
        OVERLAYS = "overlays", _("Drawing the overlays")
        REPORT = "report", _("Writing the PDF report")
        SAVING = "saving", _("Saving the results")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="studies", verbose_name=_("owner")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(_("stage"), max_length=32, choices=Stage.choices, blank=True)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    language = models.CharField(_("report language"), max_length=8, default=settings.LANGUAGE_CODE)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("study")
        verbose_name_plural = _("studies")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "created_at"]),
            models.Index(fields=["status", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def upload(self) -> "StudyFile | None":
        """The first uploaded file (the photo of a skin study); uses prefetched files if any."""
        files = list(self.files.all())
        return files[0] if files else None

    @property
    def stage_label(self) -> str:
        if self.stage:
            return str(self.get_stage_display())
        return str(self.get_status_display())


class StudyFile(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="files", verbose_name=_("study"))
    file = models.FileField(_("file"), upload_to=study_upload_path, max_length=255)
    original_name = models.CharField(_("original file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("study file")
        verbose_name_plural = _("study files")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name


class StudyResult(models.Model):
    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="result", verbose_name=_("study"))
    top_class = models.CharField(_("top class"), max_length=32)
    probabilities = models.JSONField(_("probabilities"), default=dict)
    lesion_area_fraction = models.FloatField(_("lesion share of the image"), null=True, blank=True)
    findings = models.JSONField(_("other findings"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # [{"name": ..., "version": ...}]. Declared last: the name shadows the `models` module
    # for the rest of the class body.
    models = models.JSONField(_("models"), default=list)

    class Meta:
        verbose_name = _("study result")
        verbose_name_plural = _("study results")

    def __str__(self) -> str:
        return self.top_class

    @property
    def top_probability(self) -> float:
        return float(self.probabilities.get(self.top_class, 0.0))

    @property
    def ranked_probabilities(self) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)


class Artifact(models.Model):
    class Kind(models.TextChoices):
        OUTLINE = "outline", _("Photo with the lesion outline")
        HEATMAP = "heatmap", _("Heatmap overlay")
        REPORT_PDF = "report_pdf", _("PDF report")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="artifacts", verbose_name=_("study"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to=study_artifact_path, max_length=255)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("artifact")
        verbose_name_plural = _("artifacts")
        constraints = [models.UniqueConstraint(fields=["study", "kind"], name="unique_artifact_kind_per_study")]

    def __str__(self) -> str:
        return self.get_kind_display()
