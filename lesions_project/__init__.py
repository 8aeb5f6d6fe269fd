# Load the Celery app with Django so that @shared_task binds to it and
# `transaction.on_commit(... .delay(...))` in web processes reaches the broker.
from lesions_project.celery import app as celery_app

__all__ = ("celery_app",)
