"""Production settings from the environment, checked in fresh processes (settings are read
once, at start): what is required, the secure defaults, and `check --deploy`."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

BASE_DIR = Path(django_settings.BASE_DIR)


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """Only what a production machine sets; nothing of this shell's environment leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "lesions_project.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "lesions.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=120)


def settings_in(env: dict[str, str], *names: str) -> dict:
    script = ("import json, django\n"
              "django.setup()\n"
              "from django.conf import settings\n"
              f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}, default=str))\n")
    done = run(["-c", script], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_with_the_production_environment(production_env):
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
    assert "WARNINGS" not in done.stdout + done.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_the_app_refuses_to_start_without(production_env, missing):
    del production_env[missing]
    done = run(["manage.py", "check"], production_env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and missing in done.stderr


def test_an_empty_value_counts_as_missing(production_env):
    production_env["ALLOWED_HOSTS"] = " , "
    done = run(["manage.py", "check"], production_env)
    assert done.returncode != 0 and "ALLOWED_HOSTS" in done.stderr


def test_without_debug_every_https_protection_is_on(production_env):
    values = settings_in(production_env, "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
                         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE",
                         "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER", "ALLOWED_HOSTS")
    assert values == {
        "DEBUG": False, "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True, "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True, "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "ALLOWED_HOSTS": ["lesions.example.org"],
    }


def test_each_protection_can_be_switched_off_for_a_plain_http_loopback_stack(production_env):
    production_env.update({
        "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
        "SECURE_HSTS_PRELOAD": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
        "SECURE_PROXY_SSL_HEADER": "false",
    })
    values = settings_in(production_env, "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                         "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER")
    assert values == {
        "SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0, "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False, "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_debug_keeps_local_http_working(production_env):
    production_env["DEBUG"] = "true"
    del production_env["SECRET_KEY"], production_env["ALLOWED_HOSTS"]
    values = settings_in(production_env, "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE",
                         "ALLOWED_HOSTS")
    assert values == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0, "SESSION_COOKIE_SECURE": False,
                      "ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]"]}


def test_s3_storage_needs_a_bucket(production_env):
    production_env["STORAGE_BACKEND"] = "storages.backends.s3.S3Storage"
    done = run(["manage.py", "check"], production_env)
    assert done.returncode != 0 and "AWS_STORAGE_BUCKET_NAME" in done.stderr
    production_env.update({"AWS_STORAGE_BUCKET_NAME": "lesions-media", "AWS_S3_ENDPOINT_URL": "https://s3.example.org",
                           "AWS_S3_REGION_NAME": "eu-west-1"})
    values = settings_in(production_env, "STORAGES", "AWS_DEFAULT_ACL", "AWS_QUERYSTRING_AUTH",
                         "AWS_QUERYSTRING_EXPIRE", "AWS_S3_ENDPOINT_URL")
    assert values["STORAGES"]["default"] == {"BACKEND": "storages.backends.s3.S3Storage"}
    assert (values["AWS_DEFAULT_ACL"], values["AWS_QUERYSTRING_AUTH"], values["AWS_QUERYSTRING_EXPIRE"]) == (
        "private", True, 60)


def test_the_metrics_folder_defaults_to_var(production_env):
    values = settings_in(production_env, "PROMETHEUS_MULTIPROC_DIR", "METRICS_TOKEN")
    assert values == {"PROMETHEUS_MULTIPROC_DIR": str(Path(production_env["VAR_DIR"]) / "metrics"),
                      "METRICS_TOKEN": ""}
