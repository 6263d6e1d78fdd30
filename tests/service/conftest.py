"""Fixtures for the service suite: a real service on a real SQLite file (and PostgreSQL where
the code differs by backend), with a clock the test moves."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from service_support import (
    Clock,
    make_settings,
    pg_execute,
    postgres_url,
    require_service,
    run_in_thread,
)
from sqlalchemy.engine import make_url

from roomkey.service import RoomkeyService
from roomkey.store import open_store
from roomkey.store.preload import RevocationPreload


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL server (skips, or fails when CI=true, if unreachable)."""
    url = postgres_url()
    shown = make_url(url).render_as_string(hide_password=True)
    require_service("PostgreSQL", lambda: run_in_thread(pg_execute(url, "SELECT 1")), at=shown)
    return url


OpenService = Callable[[], "AsyncIterator[RoomkeyService]"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def open_node(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[Callable[..., object]]:
    """Opens service nodes sharing one fresh database of the parametrized backend.

    Every node opened is closed at teardown; the PostgreSQL schema is dropped.
    """
    backend = str(request.param)
    nodes: list[RoomkeyService] = []
    schema = f"rk_svc_{secrets.token_hex(4)}"
    url: str | None = None
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")

    async def open_one(
        preload: RevocationPreload | None = None, **overrides: object
    ) -> RoomkeyService:
        if url is None:
            settings = make_settings(tmp_path, **overrides)
            node = await RoomkeyService.open(settings, clock=clock, preload=preload)
        else:
            settings = make_settings(tmp_path, database_url=url, **overrides)
            store = await open_store(url, schema=schema)
            node = await RoomkeyService.open(settings, store=store, clock=clock, preload=preload)
        nodes.append(node)
        return node

    def begin_preload() -> RevocationPreload:
        """A preload of this database, as ``roomkey serve`` begins one."""
        if url is None:
            return RevocationPreload(make_settings(tmp_path).resolved_database_url(), now=clock())
        return RevocationPreload(url, schema=schema, now=clock())

    open_one.begin_preload = begin_preload  # type: ignore[attr-defined]
    try:
        yield open_one
    finally:
        for node in reversed(nodes):
            await node.close()
        if url is not None:
            await pg_execute(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
async def service(tmp_path: Path, clock: Clock) -> AsyncIterator[RoomkeyService]:
    """A bootstrapped service on a real SQLite file."""
    node = await RoomkeyService.open(make_settings(tmp_path), clock=clock)
    try:
        yield node
    finally:
        await node.close()
