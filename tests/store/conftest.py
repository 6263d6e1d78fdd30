"""Fixtures for the store contract suite: one real SQLite file and one real PostgreSQL schema.

PostgreSQL comes from ``ROOMKEY_TEST_POSTGRES_URL``. Every test gets its own schema
(``rk_test_<run>_<n>``), dropped afterwards, so runs sharing one server never see each other.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from roomkey.store import SqlStore, open_store

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]
T = TypeVar("T")


def require_service(name: str, probe: Callable[[], object], *, at: str = "") -> None:
    """Skip the test when ``probe()`` raises, naming the service and why; fail instead in CI.

    With ``CI=true`` a missing service is an error, so CI can never go green by skipping.
    """
    try:
        probe()
    except Exception as exc:
        where = f" at {at}" if at else ""
        message = f"{name} not reachable{where}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@dataclass(frozen=True)
class Postgres:
    """A reachable server and this run's schema-name prefix."""

    url: str
    prefix: str
    counter: Iterator[int]

    def new_schema(self) -> str:
        return f"{self.prefix}_{next(self.counter)}"


def postgres_url() -> str:
    return os.environ.get("ROOMKEY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop, leaving pytest-asyncio's loop alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def drop_schema(url: str, schema: str) -> None:
    await _pg_execute(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """The PostgreSQL server under test (skips, or fails in CI, when it is not reachable)."""
    url = postgres_url()
    shown = make_url(url).render_as_string(hide_password=True)
    require_service("PostgreSQL", lambda: run_in_thread(_pg_execute(url, "SELECT 1")), at=shown)
    return Postgres(url, f"rk_test_{secrets.token_hex(4)}", itertools.count())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Target]:
    """Where a fresh, empty database lives for this test: a URL and, for PostgreSQL, a schema."""
    if backend == "sqlite":
        yield Target(f"sqlite:///{tmp_path / 'roomkey.db'}", None)
        return
    pg: Postgres = request.getfixturevalue("postgres")
    target = Target(pg.url, pg.new_schema())
    yield target
    await drop_schema(pg.url, target.schema or "")


@dataclass(frozen=True)
class Target:
    """A database URL and, for PostgreSQL, the schema to use in it."""

    url: str
    schema: str | None

    async def open(self) -> SqlStore:
        return await open_store(self.url, schema=self.schema)


@pytest.fixture
async def store(store_url: Target) -> AsyncIterator[SqlStore]:
    """An open, migrated, empty store on the parametrized backend."""
    opened = await store_url.open()
    yield opened
    await opened.close()
