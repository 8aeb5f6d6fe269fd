"""Tests that need a server or a browser skip where it is missing, except under CI=true,
where a missing one is a failure: CI must run every test."""

from __future__ import annotations

import os

import pytest


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(available: bool, what: str) -> None:
    """Skip (or, in CI, fail) the calling test unless ``available``; ``what`` says what is
    missing and how to get it."""
    if available:
        return
    if running_in_ci():
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)
