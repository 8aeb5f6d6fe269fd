"""docker-compose.yml and the Dockerfiles, checked without a Docker engine: the services and
what they need, pinned images, and that what each service runs starts here with the
compose environment (gunicorn loads the app, `check --deploy` is clean, Celery's app loads,
nginx's template gets every variable it names)."""
from __future__ import annotations

import http.server
import os
import re
import secrets
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings

ROOT = Path(django_settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("release", "web", "worker-gpu", "worker-cpu")
LONG_RUNNING = ("postgres", "redis", "web", "worker-gpu", "worker-cpu", "nginx")
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))


def env_example() -> tuple[dict[str, str], set[str]]:
    """The values .env.example sets, and every name it documents (set or commented out)."""
    values, names = {}, set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            names.add(match.group(2))
            if not match.group(1):
                values[match.group(2)] = match.group(3)
    return values, names


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (and $$)."""
    def replace(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise AssertionError(f"{name} is required: {argument}")
        return argument or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", replace, value).replace("$$", "$")


def service_environment(name: str) -> dict[str, str]:
    """What a service's processes see: .env (env_file) under its environment block."""
    values, _ = env_example()
    service = SERVICES[name]
    environment = dict(values) if service.get("env_file") else {}
    environment.update({key: interpolate(str(value), values) for key, value in (service.get("environment") or {}).items()})
    return environment


def run_here(command: list[str], environment: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a service's command in this checkout, with its compose environment; container
    paths under /app/var become a temporary folder, and the example's placeholder
    SECRET_KEY a real one."""
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
           "LANG": "C.UTF-8", "DJANGO_SETTINGS_MODULE": "lesions_project.settings"}
    for key, value in environment.items():
        env[key] = value.replace("/app/var", str(tmp_path / "var"))
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


# --- the services ---------------------------------------------------------------------------

def test_every_service_has_an_image_or_a_build_and_a_health_check():
    assert set(LONG_RUNNING) | {"release"} == set(SERVICES)
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        else:
            _repository, _, tag = service["image"].partition(":")
            assert re.fullmatch(r"\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?", tag), f"{name}: {service['image']} is not pinned"
    for name in LONG_RUNNING:
        check = SERVICES[name]["healthcheck"]
        assert check.get("test") and not check.get("disable"), name
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["release"]["restart"] == "no"  # one-shot: it exits when done


def test_start_order_waits_for_health():
    for name in ("web", "worker-gpu", "worker-cpu"):
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["release"]["condition"] == "service_completed_successfully"
    assert SERVICES["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert "/healthz" in (ROOT / "docker" / "healthcheck.py").read_text()


def test_the_gpu_worker_reserves_a_gpu_and_scales_by_replicas():
    worker = SERVICES["worker-gpu"]
    assert worker["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "replicas" in worker["deploy"]
    command = worker["command"]
    assert command[command.index("-Q") + 1] == "ml"
    assert command[command.index("--concurrency") + 1] == "1"


def test_every_queue_is_consumed_and_one_worker_runs_the_beat():
    consumed = {}
    for name in ("worker-gpu", "worker-cpu"):
        command = SERVICES[name]["command"]
        consumed[name] = set(command[command.index("-Q") + 1].split(","))
    assert consumed == {"worker-gpu": {"ml"}, "worker-cpu": {"light"}}
    configured = set(django_settings.CELERY_TASK_QUEUES)
    routed = {route["queue"] for route in django_settings.CELERY_TASK_ROUTES.values()}
    assert routed <= configured == consumed["worker-gpu"] | consumed["worker-cpu"]
    with_beat = [name for name, service in SERVICES.items() if "-B" in (service.get("command") or [])]
    assert with_beat == ["worker-cpu"] and SERVICES["worker-cpu"]["deploy"]["replicas"] == 1


def test_volumes_are_named_and_mounted_where_the_settings_look():
    assert {"pgdata", "media", "static", "metrics"} <= set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    for name in ("web", "worker-gpu", "worker-cpu"):
        environment = service_environment(name)
        assert f"media:{environment['MEDIA_ROOT']}" in SERVICES[name]["volumes"], name
        assert f"metrics:{environment['PROMETHEUS_MULTIPROC_DIR']}" in SERVICES[name]["volumes"], name
    assert "static:/app/var/static" in SERVICES["release"]["volumes"]  # STATIC_ROOT = VAR_DIR/static
    nginx = SERVICES["nginx"]
    assert f"static:{nginx['environment']['STATIC_ROOT']}:ro" in nginx["volumes"]
    assert f"media:{nginx['environment']['MEDIA_ROOT']}:ro" in nginx["volumes"]
    assert "./nginx/templates:/etc/nginx/templates:ro" in nginx["volumes"]
    assert service_environment("web")["PROTECTED_MEDIA_ACCEL_PREFIX"] == "/protected-media"


def test_app_services_read_env_and_reach_the_compose_servers():
    for name in APP_SERVICES:
        assert SERVICES[name]["env_file"] == ".env", name
        environment = service_environment(name)
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
    # the example's DATABASE_URL is the compose postgres service, created with its POSTGRES_*
    values, _ = env_example()
    postgres = {key: interpolate(str(value), values) for key, value in SERVICES["postgres"]["environment"].items()}
    assert values["DATABASE_URL"] == "postgres://{POSTGRES_USER}:{POSTGRES_PASSWORD}@postgres:5432/{POSTGRES_DB}".format(
        **postgres)


def test_env_example_lists_every_variable_the_settings_read():
    _, documented = env_example()
    sources = (ROOT / "lesions_project" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|int|bool|list)\("([A-Z0-9_]+)"', sources))
    read |= set(re.findall(r'"(GUNICORN_[A-Z_]+)"', (ROOT / "lesions_project" / "gunicorn.conf.py").read_text()))
    compose_text = (ROOT / "docker-compose.yml").read_text()
    read |= set(re.findall(r"\$\{([A-Z0-9_]+)", compose_text))
    read |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ML_DEVICE"}  # read by boto3 and ml.devices
    assert read - documented == set()


def test_every_dockerfile_is_pinned_runs_as_a_user_and_checks_its_health():
    assert {path.name for path in DOCKERFILES} >= {"web.Dockerfile", "worker-gpu.Dockerfile", "nginx.Dockerfile"}
    for path in DOCKERFILES:
        text = path.read_text()
        bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
        assert bases, path.name
        for base in bases:
            _image, _, tag = base.partition(":")
            assert tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+-", tag), f"{path.name}: {base}"
        users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
        assert users and users[-1] not in {"root", "0"}, path.name
        assert re.search(r"^HEALTHCHECK\s", text, flags=re.MULTILINE), path.name
    assert "python:3.11." in (ROOT / "docker" / "web.Dockerfile").read_text()


def test_the_nginx_template_gets_every_variable_it_names():
    templates = list((ROOT / "nginx" / "templates").glob("*.template"))
    assert templates
    provided = set(SERVICES["nginx"]["environment"])
    for template in templates:
        named = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template.read_text()))
        assert named <= provided, f"{template.name} needs {named - provided}"


# --- what the services run, started here -------------------------------------------------------

def test_the_web_command_loads_the_app_with_the_compose_environment(tmp_path):
    command = SERVICES["web"]["command"]
    assert command[0] == "gunicorn"
    done = run_here([sys.executable, "-m", "gunicorn", *command[1:], "--check-config"],
                    service_environment("web"), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_is_clean_with_the_compose_environment(tmp_path):
    done = run_here([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                    service_environment("web"), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_the_release_and_worker_commands_name_what_exists(tmp_path):
    release = SERVICES["release"]["command"]
    assert release[:2] == ["sh", "-c"]
    for step in release[2].split("&&"):
        words = shlex.split(step)
        assert words[:2] == ["python", "manage.py"]
        done = run_here([sys.executable, "manage.py", words[2], "--help"], service_environment("release"), tmp_path)
        assert done.returncode == 0, done.stderr
    for name in ("worker-gpu", "worker-cpu"):
        command = SERVICES[name]["command"]
        assert command[:4] == ["celery", "-A", "lesions_project", "worker"]
    # the app each worker loads, with the compose environment: it imports and reports its broker
    done = run_here([sys.executable, "-m", "celery", "-A", "lesions_project", "report"],
                    service_environment("worker-gpu"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "BROKER_URL: 'redis://redis:6379/0'" in done.stdout


class _Probe(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self) -> None:
        _Probe.hosts.append(f"{self.path} {self.headers['Host']}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_the_web_health_check_asks_for_healthz_with_an_allowed_host():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "ALLOWED_HOSTS": ".example.org,web", "GUNICORN_BIND": f"0.0.0.0:{server.server_port}"}
        done = subprocess.run([sys.executable, "docker/healthcheck.py"], cwd=ROOT, env=env, timeout=30)
        assert done.returncode == 0
        assert _Probe.hosts[-1] == "/healthz example.org"
    finally:
        server.shutdown()
        server.server_close()
    env["GUNICORN_BIND"] = f"0.0.0.0:{server.server_port}"  # nothing listens now
    assert subprocess.run([sys.executable, "docker/healthcheck.py"], cwd=ROOT, env=env, timeout=30,
                          capture_output=True).returncode == 1


@pytest.mark.parametrize("path", [".dockerignore", ".env.example", "docs/deploy.md"])
def test_the_deployment_files_exist(path):
    assert (ROOT / path).is_file()
    if path == ".dockerignore":
        ignored = (ROOT / path).read_text().split()
        assert {".venv", "var", ".env", ".git"} <= set(ignored)
