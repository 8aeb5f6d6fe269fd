# The ML worker: the `ml` queue (a study's pre-read, a nodule's score), one task at a time
# per container, on an NVIDIA GPU.
#
# Base: python slim, not nvidia/cuda. The registry's torch==2.14.0 wheel is the CUDA build
# and brings the CUDA runtime, cuBLAS, cuDNN and NCCL as pip packages (nvidia-*-cu13, about
# 3 GB); an nvidia/cuda image would add a second, unused copy and a Python of its own. The
# host provides only the driver (580 or newer for CUDA 13) through the NVIDIA Container
# Toolkit, which mounts it into the container. Without a GPU the same image runs on the CPU.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app
WORKDIR /app
COPY . /app
RUN mkdir -p /app/var/media /app/var/metrics \
 && chown -R app:app /app/var

# The toolkit mounts the driver's compute libraries only when asked to (python images do not
# say so, unlike nvidia/cuda's). The GPUs themselves come from the compose reservation.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    DJANGO_SETTINGS_MODULE=lesions_project.settings \
    VAR_DIR=/app/var \
    PROMETHEUS_MULTIPROC_DIR=/app/var/metrics

USER app

# Alive when the worker's main process answers a ping over the broker (it does while its
# pool process runs a study).
HEALTHCHECK --interval=60s --timeout=20s --start-period=120s --retries=3 \
    CMD celery -A lesions_project inspect ping --timeout 10 -d "ml@$HOSTNAME" > /dev/null || exit 1

CMD ["celery", "-A", "lesions_project", "worker", "-Q", "ml", "--concurrency", "1", \
     "--prefetch-multiplier", "1", "-n", "ml@%h", "--loglevel", "info"]
