"""The Celery app. Run a worker with `celery -A lesions_project worker -l info`."""
import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lesions_project.settings")

app = Celery("lesions_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport expects its folders to exist; Redis needs nothing."""
    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _create_broker_folders(sender: Celery, **kwargs) -> None:
    ensure_broker_folders()


@worker_process_init.connect
def _load_models_in_pool_process(**kwargs) -> None:
    """Each worker process (the solo pool's too) loads the models once, before its first
    study, not during it."""
    load_models()


def load_models() -> None:
    from django.conf import settings

    from ml.registry import load_all_installed

    installed = load_all_installed(settings.ML_WEIGHTS_DIR)
    logging.getLogger(__name__).info(
        "Models loaded: %s", ", ".join(f"{m.name} {m.version}" for m in installed) or "none")
