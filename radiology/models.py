"""What only radiology has: the nodules a radiologist marks on a CT, the signed report with
its addenda, and the labels the signatures give for training.

The tables keep the names the first version of the platform gave them (``diagnosis_*``).
"""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from studies.models import Study, study_artifact_path


class Nodule(models.Model):
    """A point a radiologist marked on a CT, scored by the nodule model around it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting in the queue")
        DONE = "done", _("Scored")
        FAILED = "failed", _("Failed")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="nodules", verbose_name=_("study"))
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("marked by")
    )
    # voxel (slice, row, column) in the original series
    z = models.PositiveIntegerField(_("slice"))
    y = models.PositiveIntegerField(_("row"))
    x = models.PositiveIntegerField(_("column"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    probability = models.FloatField(_("malignancy probability"), null=True, blank=True)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    model = models.JSONField(_("model"), default=dict, blank=True)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    heatmap = models.FileField(_("Grad-CAM image"), upload_to=study_artifact_path, max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        db_table = "diagnosis_nodule"
        verbose_name = _("nodule")
        verbose_name_plural = _("nodules")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"({self.z}, {self.y}, {self.x})"

    @property
    def positive(self) -> bool | None:
        if self.probability is None or self.threshold is None:
            return None
        return self.probability >= self.threshold


class Report(models.Model):
    """A radiologist's signed report. Final: it is never edited; later changes are Addenda."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="report", verbose_name=_("study"))
    radiologist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signed_reports", verbose_name=_("radiologist")
    )
    radiologist_name = models.CharField(_("radiologist's name"), max_length=200)
    agree = models.BooleanField(_("agrees with the AI"))
    corrected_class = models.CharField(_("corrected finding"), max_length=32, blank=True)
    impression = models.TextField(_("impression"))
    # What the AI said when the report was signed (classes, probabilities, models).
    ai_findings = models.JSONField(_("AI findings at signing"), default=dict, blank=True)
    signed_at = models.DateTimeField(_("signed"))

    class Meta:
        db_table = "diagnosis_report"
        verbose_name = _("signed report")
        verbose_name_plural = _("signed reports")
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"{self.study} ({self.radiologist_name})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("A signed report is final; add an addendum instead.")
        super().save(*args, **kwargs)


class Addendum(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="addenda", verbose_name=_("report"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("author")
    )
    author_name = models.CharField(_("author's name"), max_length=200)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        db_table = "diagnosis_addendum"
        verbose_name = _("addendum")
        verbose_name_plural = _("addenda")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.author_name}, {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("An addendum is final; add another one instead.")
        super().save(*args, **kwargs)


class Label(models.Model):
    """A radiologist's reading of a study as a training label: the AI's class when they
    agreed, their correction when they did not."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="labels", verbose_name=_("study"))
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="labels", verbose_name=_("report"))
    task = models.CharField(_("task"), max_length=32)  # the model's name, e.g. "pneumonia-type"
    value = models.CharField(_("label"), max_length=32)
    ai_value = models.CharField(_("AI's class"), max_length=32, blank=True)
    agreed = models.BooleanField(_("agreed with the AI"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        db_table = "diagnosis_label"
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.task}: {self.value}"
