"""SQLite state writes on the event loop's thread: one pause-free transaction each, none lost.

They run on the loop writer's connection whenever its lock is free; when another process (or
a paused write of this one) holds it, the ordinary pooled path takes over and waits.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event
from store_factories import audit, project, revocation, room

from roomkey.store import ConflictError, NotFoundError, SqlStore, StoreError, open_store
from roomkey.store._engine import WRITE_OPTION
from roomkey.store._loop_writer import SqliteLoopWriter


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'rk.db'}")
    try:
        await opened.create_project(project("p1"))
        yield opened
    finally:
        await opened.close()


def _writer(store: SqlStore) -> SqliteLoopWriter:
    writer = store._loop_writer
    assert writer is not None
    return writer


def _trace(store: SqlStore) -> list[str]:
    """The statements the loop writer's connection runs from now on."""
    writer = _writer(store)
    writer._connect().set_trace_callback((statements := []).append)
    return statements


def _pooled_writes(store: SqlStore) -> list[object]:
    """Transactions begun for writing on the pooled (aiosqlite) connections from now on."""
    begun: list[object] = []

    def on_begin(connection: object) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):  # type: ignore[attr-defined]
            begun.append(connection)

    # first: the store's own listener is the one that waits for the lock (BEGIN IMMEDIATE)
    event.listen(store._engine.sync_engine, "begin", on_begin, insert=True)
    return begun


async def test_a_state_write_is_one_transaction_on_the_loop_without_a_pause(
    store: SqlStore,
) -> None:
    statements, pooled = _trace(store), _pooled_writes(store)
    revision = await store.state_revision()
    write = store.add_revocation(revocation("rv_1"))
    with pytest.raises(StopIteration):  # ran to its end at the first step: it never yielded
        write.send(None)
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
    assert sum(s.startswith("INSERT INTO revocations") for s in statements) == 1
    assert sum(s.startswith("UPDATE state_revision") for s in statements) == 1
    assert pooled == []
    assert [r.id for r in await store.list_revocations("p1")] == ["rv_1"]  # seen by the pool
    assert await store.state_revision() == revision + 1


async def test_the_loop_writer_never_waits_for_the_lock_nor_checkpoints(store: SqlStore) -> None:
    conn = _writer(store)._connect()
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (0,)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)


async def test_writes_from_32_tasks_all_land_and_are_visible(store: SqlStore) -> None:
    before = await store.state_revision()

    async def client(n: int) -> None:
        for i in range(5):
            await store.add_revocation(revocation(f"rv_{n}_{i}"))
            await store.create_room(room(custom_id=f"room-{n}-{i}"))
            await store.create_room(room(custom_id="shared"))  # one of them makes it
            await store.insert_audit_many([audit(f"j{n}-{i}")])

    await asyncio.gather(*(client(n) for n in range(32)))
    assert len(await store.list_revocations("p1")) == 32 * 5
    rooms = await store.list_all_rooms()
    assert len(rooms) == 32 * 5 + 1
    assert sum(r.custom_id == "shared" for r in rooms) == 1
    assert await store.count_audit("p1") == 32 * 5
    assert await store.state_revision() == before + 32 * 5 * 2 + 1


async def test_a_failed_write_leaves_nothing_and_the_writer_usable(store: SqlStore) -> None:
    await store.add_revocation(revocation("rv_1"))
    revision = await store.state_revision()
    with pytest.raises(ConflictError):
        await store.add_revocation(revocation("rv_1"))
    with pytest.raises(NotFoundError):
        await store.create_room(room(project_id="nope"))
    assert await store.state_revision() == revision
    statements = _trace(store)
    await store.add_revocation(revocation("rv_2"))
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
    assert [r.id for r in await store.list_revocations("p1")] == ["rv_1", "rv_2"]


async def test_a_write_waits_on_a_thread_while_another_process_holds_the_lock(
    store: SqlStore, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "rk.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # as a second worker or a CLI command would
        pending = asyncio.ensure_future(store.add_revocation(revocation("rv_held")))
        await asyncio.sleep(0.2)  # the loop runs meanwhile: this sleep ends
        assert not pending.done()  # waiting, not failing
        other.execute("COMMIT")
        await asyncio.wait_for(pending, 5)
    finally:
        other.close()
    assert [r.id for r in await store.list_revocations("p1")] == ["rv_held"]


async def test_a_write_meeting_a_paused_one_goes_the_ordinary_way(store: SqlStore) -> None:
    writer, pooled = _writer(store), _pooled_writes(store)
    held = writer.begin()  # a write whose body paused (the rule says it must not)
    assert held is not None
    assert writer.begin() is None  # the connection is never shared by two transactions
    pending = asyncio.ensure_future(store.add_revocation(revocation("rv_next")))
    await asyncio.sleep(0.2)
    assert not pending.done()  # waiting for the file lock the paused one holds
    writer.rollback()
    await asyncio.wait_for(pending, 5)
    assert len(pooled) == 1  # it went the ordinary way
    assert [r.id for r in await store.list_revocations("p1")] == ["rv_next"]


async def test_a_write_from_another_thread_goes_the_ordinary_way(store: SqlStore) -> None:
    writer, pooled = _writer(store), _pooled_writes(store)
    await store.add_revocation(revocation("rv_1"))  # the writer now belongs to this thread
    writer._thread = -1  # as if another thread's loop had written first
    await store.add_revocation(revocation("rv_2"))
    assert len(pooled) == 1
    assert [r.id for r in await store.list_revocations("p1")] == ["rv_1", "rv_2"]


async def _wal_bytes_after_state_writes(path: Path, checkpoint_rows: int) -> int:
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.create_project(project("p1"))
        lane = store._audit_lane
        assert lane is not None
        lane._checkpoint_rows = checkpoint_rows
        for i in range(600):
            await store.add_revocation(revocation(f"rv_{i}"))
            if lane._bulk_checkpoint is not None:  # as on a server, where writes come apart
                await asyncio.wrap_future(lane._bulk_checkpoint)
        return (path.parent / f"{path.name}-wal").stat().st_size
    finally:
        await store.close()


async def test_state_writes_alone_keep_the_wal_short(tmp_path: Path) -> None:
    # the loop writer never checkpoints by itself: the audit lane counts its commits
    checkpointed = await _wal_bytes_after_state_writes(tmp_path / "a.db", checkpoint_rows=400)
    never = await _wal_bytes_after_state_writes(tmp_path / "b.db", checkpoint_rows=10**9)
    assert checkpointed * 3 < never


async def test_a_closed_store_refuses_writes_and_closes_the_writer(tmp_path: Path) -> None:
    closed = await open_store(f"sqlite:///{tmp_path / 'rk.db'}")
    await closed.create_project(project("p1"))
    await closed.close()
    assert _writer(closed)._raw is None
    with pytest.raises(StoreError):
        await closed.add_revocation(revocation())


async def test_an_in_memory_database_has_no_loop_writer() -> None:
    memory = await open_store("sqlite://")
    try:
        assert memory._loop_writer is None
        await memory.create_project(project("p1"))
        await memory.add_revocation(revocation("rv_1"))
        assert [r.id for r in await memory.list_revocations("p1")] == ["rv_1"]
    finally:
        await memory.close()
