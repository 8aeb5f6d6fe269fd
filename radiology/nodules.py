"""Nodules on a CT: a radiologist marks a point in the viewer (``nodule_mark``), the worker
scores the sub-volume around it (``score_nodule``, with ml.ct.nodule_malignancy) and stores the
probability with a Grad-CAM in three planes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import OperationalError, transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from PIL import Image

from accounts import permissions
from accounts.models import User
from radiology.models import Nodule
from studies.analysis import outbox
from studies.analysis.ct import viewer_to_original
from studies.analysis.outcome import encoded
from studies.analysis.run import failure_reason
from studies.audit import Action, audit
from studies.models import Study
from studies.storage import local_files

logger = logging.getLogger(__name__)

SCORE_NODULE_TASK = "radiology.score_nodule"
NODULE_NOT_QUEUED = _("The analysis queue could not be reached, so this point was not scored. Please mark it again.")


def nodule_mark(*, user: User, study: Study, point: tuple[int, int, int]) -> Nodule:
    """A radiologist marks a point of the CT viewer's volume; the nodule model scores the
    sub-volume around it in the worker. Raises ApplicationError (403) or ValidationError."""
    permissions.require(permissions.may_review(user), _("Only radiologists mark nodules."))
    result = getattr(study, "result", None)
    if study.kind != Study.Kind.CT or study.status != Study.Status.DONE or result is None \
            or "volume" not in result.findings:
        raise ValidationError(_("Nodules can be marked once the CT volume has been built."))
    shown = result.findings["volume"]["shape"]
    if len(point) != 3 or any(not 0 <= int(v) < size for v, size in zip(point, shown, strict=False)):
        raise ValidationError(_("The point is outside the volume."))
    z, y, x = viewer_to_original(study, (int(point[0]), int(point[1]), int(point[2])))
    with transaction.atomic():
        nodule = Nodule.objects.create(study=study, marked_by=user, z=z, y=y, x=x)
        audit(user, study.id, Action.MARKED, detail=f"nodule {nodule.id} at ({z}, {y}, {x})")
        transaction.on_commit(lambda: queue_nodule_scoring(nodule.id), robust=True)
    return nodule


def queue_nodule_scoring(nodule_id: int) -> bool:
    """Publish a marked nodule's scoring. A nodule has no outbox: when the broker cannot be
    reached it fails at once with a reason, and the radiologist marks it again."""
    try:
        outbox.send(SCORE_NODULE_TASK, nodule_id)
    except outbox.PUBLISH_ERRORS:
        logger.warning("Nodule %s: the broker cannot be reached; marked failed", nodule_id, exc_info=True)
        nodule_mark_failed(nodule_id=nodule_id, reason=NODULE_NOT_QUEUED)
        return False
    return True


def score_nodule(*, nodule_id: int) -> None:
    """Score a marked nodule (in the worker); a failure is recorded on the nodule. A nodule
    already scored is left alone (a duplicate or redelivered task)."""
    nodule = Nodule.objects.select_related("study").filter(id=nodule_id).first()
    if nodule is None or nodule.status == Nodule.Status.DONE:
        return
    with translation.override(nodule.study.language):
        try:
            _score(nodule)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001  every failure ends the nodule failed, with a reason
            reason = str(failure_reason(nodule.study, exc))
            Nodule.objects.filter(id=nodule.id).update(status=Nodule.Status.FAILED, failure_reason=reason)


def nodule_mark_failed(*, nodule_id: int, reason: str | Promise) -> None:
    """Record that a nodule could not be scored (in its study's language), unless it was."""
    nodule = Nodule.objects.select_related("study").filter(id=nodule_id).first()
    if nodule is None:
        return
    with translation.override(nodule.study.language):
        text = str(reason)
    Nodule.objects.filter(id=nodule_id, status=Nodule.Status.QUEUED).update(
        status=Nodule.Status.FAILED, failure_reason=text)


def _score(nodule: Nodule) -> None:
    """Run the nodule model around the marked point and store it on ``nodule`` (saved)."""
    from ml.ct import nodule_malignancy  # noqa: PLC0415  worker only: web processes never load torch

    with local_files(list(nodule.study.files.all())) as paths:
        scored = nodule_malignancy(paths, (nodule.z, nodule.y, nodule.x), weights_dir=settings.ML_WEIGHTS_DIR)
    planes = [scored.cam_images[name].convert("RGB") for name in ("axial", "coronal", "sagittal")]
    strip = Image.new("RGB", (sum(p.width for p in planes) + 8 * (len(planes) - 1), max(p.height for p in planes)))
    left = 0
    for plane in planes:
        strip.paste(plane, (left, 0))
        left += plane.width + 8
    nodule.probability = float(scored.probability)
    nodule.threshold = float(scored.threshold)
    nodule.model = {"name": scored.model.name, "version": scored.model.version}
    nodule.status = Nodule.Status.DONE
    nodule.failure_reason = ""
    nodule.heatmap.save("nodule.png", ContentFile(encoded(strip, "PNG")), save=False)
    nodule.save()
