# The application image: gunicorn serving Django (`web`), the one-shot `release` step
# (migrations, static files) and the light Celery worker (`worker-cpu`) all run it.
#
# Base: the exact Python the project is developed on (3.11), slim Debian bookworm. The image
# carries requirements.txt entire, torch included (the same list as `make`): the web never
# imports torch, but one image for every Python service keeps versions in step.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# OpenCV's wheel (through ultralytics) links libGL and GLib; nothing else comes from Debian.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first: this layer is rebuilt only when requirements.txt changes, and the GPU
# worker's Dockerfile repeats these lines word for word so the two images share it.
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

# The code belongs to root and is read-only to the app; it writes only under /app/var
# (media, static files, metric files: volumes in docker-compose.yml).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app
WORKDIR /app
COPY . /app
RUN mkdir -p /app/var/media /app/var/static /app/var/metrics \
 && chown -R app:app /app/var

ENV DJANGO_SETTINGS_MODULE=lesions_project.settings \
    VAR_DIR=/app/var \
    PROMETHEUS_MULTIPROC_DIR=/app/var/metrics \
    GUNICORN_BIND=0.0.0.0:8000

USER app
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "docker/healthcheck.py"]

CMD ["gunicorn", "-c", "lesions_project/gunicorn.conf.py", "lesions_project.wsgi"]
