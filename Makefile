# The two commands of the README: `make run` and `make test`; `make lint` runs the static checks.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test venv migrate bench-skin train-skin stack stack-stop lint lint-ruff lint-imports lint-types mypy-baseline

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

# The web server on http://127.0.0.1:$(PORT) and a Celery worker, on SQLite and a
# filesystem broker (no servers needed).
run: migrate
	PORT=$(PORT) PY=$(PY) bash scripts/run-dev.sh

test: $(STAMP)
	$(PY) -m pytest

# Static checks, configured in pyproject.toml; `make -k lint` reports all three when several fail.
lint: lint-ruff lint-imports lint-types

lint-ruff: $(STAMP)
	$(VENV)/bin/ruff check .

# The layer contracts (import-linter), then any import cycle between two modules.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-logo
	$(PY) scripts/check_imports.py

# mypy, failing on an error not in mypy-baseline.txt or on one there that is gone.
lint-types: $(STAMP)
	$(PY) scripts/mypy_baseline.py

# Rewrites mypy-baseline.txt from the errors there are now: after fixing some, or once files moved.
mypy-baseline: $(STAMP)
	$(PY) scripts/mypy_baseline.py --update

# The production topology on this machine, no containers: nginx on
# http://127.0.0.1:${STACK_PORT:-8080} in front of gunicorn, PostgreSQL and Redis
# (DATABASE_URL, REDIS_URL), an ML and a light Celery worker; state in var/stack/.
# See scripts/stack.sh for the settings. Running it again starts only what is not running.
stack: $(STAMP)
	PY=$(PY) bash scripts/stack.sh start

# Stops what `make stack` started (by its pid files in var/stack/), nothing else.
stack-stop:
	PY=$(PY) bash scripts/stack.sh stop

bench-skin: $(STAMP)
	$(PY) bench/skin_pipeline.py

train-skin: $(STAMP)
	$(PY) -m ml.train ml/configs/skin-classifier.yaml
	$(PY) -m ml.train ml/configs/skin-segmenter.yaml
