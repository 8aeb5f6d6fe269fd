from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from lesions_project.env import env_bool, env_int, env_list, env_str, parse_database_url


def test_env_helpers_read_typed_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "20_000_000")
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    monkeypatch.setenv("X_STR", " hello ")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1) == 20_000_000
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env_str("X_STR") == "hello"
    assert env_bool("X_MISSING", True) is True and env_int("X_MISSING", 7) == 7


@pytest.mark.parametrize(("reader", "value"), [(lambda: env_bool("X_BAD", False), "maybe"), (lambda: env_int("X_BAD", 0), "ten")])
def test_env_helpers_fail_loudly(monkeypatch, reader, value):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match="X_BAD"):
        reader()


def test_required_env_str(monkeypatch):
    monkeypatch.delenv("X_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_REQUIRED"):
        env_str("X_REQUIRED")


def test_parse_database_url():
    base = Path("/srv/app")
    assert parse_database_url("sqlite:///var/db.sqlite3", base_dir=base) == {
        "ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/var/db.sqlite3",
    }
    assert parse_database_url("sqlite:////data/db.sqlite3", base_dir=base)["NAME"] == "/data/db.sqlite3"
    postgres = parse_database_url("postgres://lesions:s%40cret@db.internal:5433/lesions", base_dir=base)
    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert (postgres["USER"], postgres["PASSWORD"], postgres["HOST"], postgres["PORT"], postgres["NAME"]) == (
        "lesions", "s@cret", "db.internal", "5433", "lesions",
    )
    with pytest.raises(ImproperlyConfigured):
        parse_database_url("mysql://x@y/z", base_dir=base)
    with pytest.raises(ImproperlyConfigured):
        parse_database_url("postgres://x@y/", base_dir=base)
