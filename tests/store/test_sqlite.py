"""SQLite specifics: connection pragmas, and a restart keeping every row."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from store_factories import NOW, audit, key, project, revocation, role, room

from roomkey.store import ConflictError, ProjectSettings, SqlStore, open_store
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


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_the_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    """The audit log and sealed secrets live in them: 0600 whatever the umask (here 022)."""
    db = tmp_path / "new" / "rk.db"
    old = os.umask(0o022)
    try:
        store = await open_store(f"sqlite:///{db}")
        try:
            await _fill(store)
            files = [db, db.with_name("rk.db-wal"), db.with_name("rk.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        finally:
            await store.close()
    finally:
        os.umask(old)
    assert _mode(db.parent) == 0o700  # created by the store; an existing directory is left


async def test_files_left_readable_by_an_older_start_are_tightened(tmp_path: Path) -> None:
    db = tmp_path / "rk.db"
    await (await open_store(f"sqlite:///{db}")).close()
    leftovers = [db, db.with_name("rk.db-wal"), db.with_name("rk.db-shm")]
    for file in leftovers:
        file.touch()
        file.chmod(0o644)
    tmp_path.chmod(0o755)
    store = await open_store(f"sqlite:///{db}")
    try:
        await _fill(store)
        assert [_mode(f) for f in leftovers] == [0o600] * 3
    finally:
        await store.close()
    assert _mode(tmp_path) == 0o755  # the operator's directory


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


async def _audit_count(store: SqlStore) -> int:
    async with store._engine.connect() as conn:
        count: int = (await conn.execute(text("SELECT count(*) FROM audit"))).scalar_one()
    return count


async def test_audit_batch_commits_on_the_loop_thread_when_the_lock_is_free(
    tmp_path: Path,
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'rk.db'}")
    try:
        await store.create_project(project("p1"))
        lane = store._audit_lane
        assert lane is not None
        loop_statements: list[str] = []
        lane._loop_connection().set_trace_callback(loop_statements.append)
        await store.insert_audit_many([audit() for _ in range(3)])
        assert loop_statements.count("COMMIT") == 1
        assert lane._conn is None  # the worker thread's connection was never needed
        loop_conn = lane._loop_connection()
        assert loop_conn.execute("PRAGMA busy_timeout").fetchone() == (0,)
        assert loop_conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        assert await _audit_count(store) == 3
    finally:
        await store.close()


async def test_audit_batch_waits_on_the_thread_while_another_writer_holds_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rk.db"
    store = await open_store(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await store.create_project(project("p1"))
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        pending = asyncio.ensure_future(store.insert_audit_many([audit("held")]))
        await asyncio.sleep(0.2)
        assert not pending.done()  # waiting on the lane's thread, not failing, not blocking us
        other.execute("COMMIT")
        await asyncio.wait_for(pending, 5)
        assert await _audit_count(store) == 1
    finally:
        other.close()
        await store.close()


async def _wal_bytes_after_audit(path: Path, checkpoint_rows: int) -> int:
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.create_project(project("p1"))
        lane = store._audit_lane
        assert lane is not None
        lane._checkpoint_rows = checkpoint_rows
        for batch in range(40):
            await store.insert_audit_many([audit(f"j{batch}-{i}") for i in range(50)])
            if lane._bulk_checkpoint is not None:  # as on a server, where batches come apart
                await asyncio.wrap_future(lane._bulk_checkpoint)  # in time: not a race here
        assert await _audit_count(store) == 2000
        return (path.parent / f"{path.name}-wal").stat().st_size
    finally:
        await store.close()


async def test_audit_checkpoints_keep_the_wal_short(tmp_path: Path) -> None:
    # The loop's connection never checkpoints by itself; without the lane's checkpoints the WAL
    # would keep every page the audit ever wrote.
    checkpointed = await _wal_bytes_after_audit(tmp_path / "a.db", checkpoint_rows=100)
    never = await _wal_bytes_after_audit(tmp_path / "b.db", checkpoint_rows=10**9)
    assert checkpointed * 3 < never


async def test_audit_conflict_rolls_back_the_whole_batch_on_either_path(tmp_path: Path) -> None:
    path = tmp_path / "rk.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.create_project(project("p1"))
        await store.insert_audit_many([audit("dup")])
        with pytest.raises(ConflictError):
            await store.insert_audit_many([audit("new-1"), audit("dup")])
        lane = store._audit_lane
        assert lane is not None
        lane._loop_thread = -1  # as if another thread's loop owned the fast path
        with pytest.raises(ConflictError):
            await store.insert_audit_many([audit("new-2"), audit("dup")])
        await store.insert_audit_many([audit("new-3")])
        assert await _audit_count(store) == 2
    finally:
        await store.close()
