"""SQLite specifics: connection pragmas, and a restart keeping every row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from store_factories import NOW, audit, key, project, revocation, role, room

from roomkey.store import ProjectSettings, SqlStore, open_store
from roomkey.store._engine import SQLITE_BUSY_TIMEOUT_MS


async def test_every_connection_has_wal_and_pragmas(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'rk.db'}")
    try:
        async with store._engine.connect() as conn:
            values = [
                (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
    finally:
        await store.close()
    # synchronous=1 is NORMAL
    assert values == ["wal", 1, 1, SQLITE_BUSY_TIMEOUT_MS]


async def _fill(store: SqlStore) -> None:
    await store.create_project(project("p1", settings=ProjectSettings(default_ttl_s=30)))
    await store.create_key(key("k1", public_jwk={"kty": "oct"}))
    await store.create_room(room("abcd-efgh-ijkl", custom_id="c1", metadata={"a": [1, 2]}))
    await store.upsert_role(role("host"))
    await store.add_revocation(revocation("r1"))
    await store.insert_audit_many([audit(f"j{i}") for i in range(5)])


async def _snapshot(store: SqlStore) -> tuple[object, ...]:
    return (
        await store.list_projects(),
        await store.list_keys("p1"),
        await store.list_all_rooms(),
        await store.list_roles("p1"),
        await store.list_revocations("p1", include_lifted=True),
        await store.list_audit("p1"),
    )


async def test_restart_keeps_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rk.db'}"
    store = await open_store(url)
    await _fill(store)
    before = await _snapshot(store)
    await store.close()
    reopened = await open_store(url)
    try:
        assert await _snapshot(reopened) == before
        assert (await reopened.get_project("p1")).settings.default_ttl_s == 30  # type: ignore[union-attr]
        assert await reopened.count_audit("p1") == 5
    finally:
        await reopened.close()


async def test_in_memory_database_works(tmp_path: Path) -> None:
    store = await open_store("sqlite://")
    try:
        await store.create_project(project("p1", created_at=NOW))
        assert [p.id for p in await store.list_projects()] == ["p1"]
    finally:
        await store.close()
