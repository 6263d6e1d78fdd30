"""Shared test fixtures: keys, a fixed clock, and real-service availability."""

from __future__ import annotations

import os

import pytest

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000.0  # a fixed clock: no test sleeps


def require_service(name: str, reason: str | None) -> None:
    """Skip when a real service is unreachable, but fail under CI=true (CI never skips)."""
    if reason is None:
        return
    message = f"{name} not reachable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: a required service must be up)")
    pytest.skip(message)


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def api_key() -> str:
    return API_KEY
