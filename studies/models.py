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
        # The models' input gate refused the image (a photo that is not a lesion, blurred,
        # a film that is not a chest X-ray): no finding is shown, the reasons are.
        NOT_ASSESSABLE = "not_assessable", _("Not assessable")
        FAILED = "failed", _("Failed")

    class Stage(models.TextChoices):
        """What the worker is doing right now, shown to the user while they wait."""

        LOADING = "loading", _("Opening the images")
        CLASSIFICATION = "classification", _("Classifying")
        SEGMENTATION = "segmentation", _("Outlining the lesion")
        GRADCAM = "gradcam", _("Computing the heatmap")
        DETECTION = "detection", _("Looking for opacities")
        VOLUME = "volume", _("Building the CT volume")
        PREVIEWS = "previews", _("Drawing the previews")
        OVERLAYS = "overlays", _("Drawing the overlays")
        REPORT = "report", _("Writing the PDF report")
        SAVING = "saving", _("Saving the results")

    class Urgency(models.IntegerChoices):
        """The AI's triage of a radiology study. A study the AI could not assess ranks above
        routine ones: a failed pre-read must not bury a study at the end of the worklist."""

        URGENT = 30, _("Urgent")
        NOT_ASSESSED = 20, _("Not assessed by the AI")
        ROUTINE = 10, _("Routine")

    class Review(models.TextChoices):
        NONE = "", _("No review needed")
        AWAITING = "awaiting", _("Awaiting review")
        IN_REVIEW = "in_review", _("In review")
        SIGNED = "signed", _("Signed")

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
    # The outbox: when the analysis task was last handed to the broker; empty while it has
    # not been (the broker was down), until the sweep publishes it (studies.analysis.outbox).
    queued_at = models.DateTimeField(_("handed to the queue"), null=True, blank=True)
    # Runs of the analysis started so far; a study whose runs keep dying is failed.
    analysis_attempts = models.PositiveSmallIntegerField(_("analysis attempts"), default=0)

    # Radiology only. The patient's name and id come from the DICOM header (or the upload
    # form) and live here only: the stored DICOM copies are de-identified.
    patient_name = models.CharField(_("patient name"), max_length=200, blank=True)
    patient_identifier = models.CharField(_("patient ID"), max_length=64, blank=True)
    patient_age = models.CharField(_("patient age"), max_length=8, blank=True)
    patient_sex = models.CharField(_("patient sex"), max_length=4, blank=True)
    modality = models.CharField(_("modality"), max_length=8, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    study_date = models.DateField(_("study date"), null=True, blank=True)
    image_count = models.PositiveIntegerField(_("images"), default=0)
    urgency = models.PositiveSmallIntegerField(
        _("AI urgency"), choices=Urgency.choices, default=Urgency.NOT_ASSESSED
    )
    review = models.CharField(_("review"), max_length=16, choices=Review.choices, default=Review.NONE, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="claimed_studies", verbose_name=_("claimed by"),
    )
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)

    class Meta:
        verbose_name = _("study")
        verbose_name_plural = _("studies")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "created_at"]),
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["review", "-urgency", "created_at"], name="worklist_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.NOT_ASSESSABLE, self.Status.FAILED}

    @property
    def upload(self) -> "StudyFile | None":
        """The first uploaded file (the photo of a skin study); uses prefetched files if any."""
        files = list(self.files.all())
        return files[0] if files else None

    @property
    def assessable(self) -> bool:
        return self.status != self.Status.NOT_ASSESSABLE

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
        IMAGE = "image", _("Image for display")  # X-ray: the 8-bit greyscale display image
        HEATMAP_LAYER = "heatmap_layer", _("Heatmap layer")  # RGBA PNG laid over the image in the viewer
        VOLUME = "volume", _("CT volume for display")  # int16 HU, C order, shape in the result
        AXIAL = "axial", _("Axial preview")
        CORONAL = "coronal", _("Coronal preview")
        SAGITTAL = "sagittal", _("Sagittal preview")
        MONTAGE = "montage", _("Montage")

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


class AuditEvent(models.Model):
    """Who did what to which study. Kept when the study or the user is deleted."""

    class Action(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        VIEWED = "viewed", _("opened")
        DOWNLOADED = "downloaded", _("downloaded")
        CLAIMED = "claimed", _("claimed")
        RELEASED = "released", _("released")
        MARKED = "marked", _("marked a nodule")
        SIGNED = "signed", _("signed")
        ADDENDUM = "addendum", _("added an addendum")
        DELETED = "deleted", _("deleted")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("user")
    )
    username = models.CharField(_("user name"), max_length=150)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    study_id = models.UUIDField(_("study"), db_index=True)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.study_id}"
