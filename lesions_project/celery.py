"""The Celery app.

Production runs two kinds of worker (queues and limits: settings, "# Celery"):

    celery -A lesions_project worker -Q ml --concurrency 1 --prefetch-multiplier 1 -l info
    celery -A lesions_project worker -Q light -B -l info

one `ml` worker per GPU (a study's pre-read, a nodule's score: one at a time), and the
`light` worker with the beat embedded (-B, exactly one in a deployment) that runs the outbox
sweep. For local runs one worker consumes both queues: `celery -A lesions_project worker -B`
(scripts/run-dev.sh).
"""
import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lesions_project.settings")

app = Celery("lesions_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["studies.analysis", "radiology"])


def ensure_broker_folders() -> None:
    """The filesystem transport expects its folders to exist; Redis needs nothing. Beat
    keeps its schedule in a file beside them."""
    if app.conf.beat_schedule_filename:
        Path(app.conf.beat_schedule_filename).parent.mkdir(parents=True, exist_ok=True)
    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _create_broker_folders(sender: Celery, **kwargs) -> None:
    ensure_broker_folders()


# Whether this worker consumes the `ml` queue; the light worker never loads the models.
_runs_models = True


@worker_init.connect
def _note_queues(sender, **kwargs) -> None:
    global _runs_models  # noqa: PLW0603  set once per worker, before its pool starts
    _runs_models = "ml" in sender.app.amqp.queues.consume_from


@worker_process_init.connect
def _load_models_in_pool_process(**kwargs) -> None:
    """Each worker process (the solo pool's too) loads the models once, before its first
    study, not during it."""
    if _runs_models:
        load_models()


def load_models() -> None:
    from django.conf import settings  # noqa: PLC0415  read once Django is set up, in the worker

    from ml.installed import load_all_installed  # noqa: PLC0415  worker only: web processes never load torch

    installed = load_all_installed(settings.ML_WEIGHTS_DIR)
    logging.getLogger(__name__).info(
        "Models loaded: %s", ", ".join(f"{m.name} {m.version}" for m in installed) or "none")


import lesions_project.metrics  # noqa: E402,F401  connects the worker's metric signals
