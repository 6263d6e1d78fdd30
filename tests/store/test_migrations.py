"""Migrations: packaged, idempotent, concurrent-safe, and equal to the declared schema."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from store_factories import project
from store_support import Target, run_in_thread

from roomkey.errors import ConfigurationError
from roomkey.store import SqlStore, current_revision, head_revision, open_store, upgrade
from roomkey.store.migrate import VERSION_TABLE, alembic_config, packaged_head, upgrade_engine
from roomkey.store.schema import metadata

TABLES = {
    "changes",
    "projects",
    "api_keys",
    "rooms",
    "roles",
    "revocations",
    "audit",
    "bans",
    "state_revision",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    VERSION_TABLE,
}


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_equals_declared_schema(store: SqlStore) -> None:
    async with store._engine.connect() as conn:
        diff = await conn.run_sync(_schema_diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert diff == []
    assert tables == TABLES


async def test_migrating_twice_is_a_no_op(store: SqlStore) -> None:
    await store.create_project(project("p1"))
    await upgrade_engine(store._engine, schema=None)
    assert await current_revision(store._engine) == head_revision()
    assert [p.id for p in await store.list_projects()] == ["p1"]


async def test_reopening_migrated_database_keeps_rows(store_url: Target) -> None:
    first = await store_url.open()
    await first.create_project(project("p1"))
    await first.close()
    second = await store_url.open()
    try:
        assert await second.get_project("p1") is not None
    finally:
        await second.close()


async def test_concurrent_opens_migrate_once(store_url: Target) -> None:
    stores = await asyncio.gather(*(store_url.open() for _ in range(4)))
    try:
        assert {await current_revision(s._engine) for s in stores} == {head_revision()}
    finally:
        for opened in stores:
            await opened.close()


async def test_sync_upgrade_for_the_cli(store_url: Target) -> None:
    # `roomkey db upgrade` is synchronous; run it off this test's event loop, twice
    for _ in range(2):
        revision = await asyncio.to_thread(upgrade, store_url.url, schema=store_url.schema)
        assert revision == head_revision()


def test_head_revision_is_packaged() -> None:
    assert head_revision() == packaged_head() == "0006"


async def test_a_database_at_head_is_recognised_without_running_alembic(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roomkey.store.migrate as migrate

    def refuse(_connection: Connection) -> None:
        raise AssertionError("Alembic ran for a database at head")

    monkeypatch.setattr(migrate, "_upgrade_to_head", refuse)
    await upgrade_engine(store._engine)  # at head: one query, nothing else


@pytest.mark.parametrize("bad", ["", "Public", "x;drop", "a" * 64])
def test_bad_schema_names_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        run_in_thread(_open_pg_with_schema(bad))


async def _open_pg_with_schema(schema: str) -> None:
    await open_store("postgresql://nobody@127.0.0.1:1/x", schema=schema)


async def test_a_database_of_the_first_release_upgrades_in_place(store_url: Target) -> None:
    store = await store_url.open()
    try:
        await store.create_project(project("p1"))

        def back_to_0001(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")

        async with store._engine.begin() as conn:
            await conn.run_sync(back_to_0001)
        assert await current_revision(store._engine) == "0001"
        await upgrade_engine(store._engine, schema=store_url.schema)
        assert await current_revision(store._engine) == head_revision()
        assert [p.id for p in await store.list_projects()] == ["p1"]
        assert await store.state_revision() == 0
        await store.create_project(project("p2"))
        assert await store.state_revision() == 1
    finally:
        await store.close()
