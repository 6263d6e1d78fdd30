"""Shared test fixtures: a test key and secret.

Real services (PostgreSQL) are reached through ``tests/store/store_support.py::require_service``:
a test skips with a clear message when the service is unreachable, and fails under ``CI=true``.
"""

from __future__ import annotations

import os

import pytest

# pytest-xdist's workers set COLUMNS=80 and LINES=24, which the CLI's tables (rich) then wrap
# to; without them the CLI prints as in a run without workers, which the tests read
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def api_key() -> str:
    return API_KEY
