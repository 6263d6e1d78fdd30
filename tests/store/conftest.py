"""Fixtures for the store contract suite: a real SQLite file and a real PostgreSQL schema.

PostgreSQL comes from ``ROOMKEY_TEST_POSTGRES_URL``. Every test gets its own schema
(``rk_test_<run>_<n>``), dropped afterwards, so runs sharing one server never see each other.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from store_support import (
    Postgres,
    Target,
    pg_execute,
    postgres_url,
    require_service,
    run_in_thread,
)

from roomkey.store import SqlStore


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """The PostgreSQL server under test (skips, or fails when CI=true, if unreachable)."""
    url = postgres_url()
    shown = make_url(url).render_as_string(hide_password=True)
    require_service("PostgreSQL", lambda: run_in_thread(pg_execute(url, "SELECT 1")), at=shown)
    return Postgres(url, f"rk_test_{secrets.token_hex(4)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    return str(request.param)


@pytest.fixture
async def store_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Target]:
    """Where a fresh, empty database lives for this test."""
    if backend == "sqlite":
        yield Target(f"sqlite:///{tmp_path / 'roomkey.db'}", None)
        return
    pg: Postgres = request.getfixturevalue("postgres")
    target = Target(pg.url, pg.new_schema())
    try:
        yield target
    finally:
        await pg_execute(pg.url, f"DROP SCHEMA IF EXISTS {target.schema} CASCADE")


@pytest.fixture
async def store(store_url: Target) -> AsyncIterator[SqlStore]:
    """An open, migrated, empty store on the parametrized backend."""
    opened = await store_url.open()
    try:
        yield opened
    finally:
        await opened.close()
