"""What every SQL-backed resource shares: the engine, translated transactions, lifecycle."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from roomkey.store._audit_lane import SqliteAuditLane
from roomkey.store._conn import WriteConnection
from roomkey.store._engine import WRITE_OPTION
from roomkey.store._loop_writer import SqliteLoopWriter
from roomkey.store._outbox import emit
from roomkey.store._translate import translated
from roomkey.store.errors import NotFoundError, StoreError
from roomkey.store.records import ChangeKind, ChangeRecord, OutboxEvent
from roomkey.store.schema import changes, projects, state_revision

ChangeListener = Callable[[Sequence[ChangeRecord]], None]

MAX_PAGE = 500
# the next revision, taken at the end of a state write: the row lock it takes is held until
# commit, so revisions are gap-free and in commit order across every node
_NEXT_REVISION = (
    update(state_revision)
    .where(state_revision.c.id == 1)
    .values(revision=state_revision.c.revision + 1)
    .returning(state_revision.c.revision)
)
_INSERT_CHANGE = insert(changes)
_CHANGES_SINCE = (
    select(changes.c.rev, changes.c.project_id, changes.c.kind, changes.c.ref, changes.c.created_at)
    .where(changes.c.rev > bindparam("after"))
    .order_by(changes.c.rev)
    .limit(bindparam("limit"))
)

# built once: a statement built per call costs more than running it (its values are compiled
# into a fresh cache key each time); these take their values as parameters
_PROJECT_EXISTS = select(projects.c.id).where(projects.c.id == bindparam("project_id"))

# what a state write adds to the WAL, in the audit lane's checkpoint unit (audit rows): a
# revocation or a room write appends about 5 WAL frames (measured: 1,010 for 200), a batch of
# ~30 audit rows under load about 10, a third of a frame per row
STATE_WRITE_ROWS = 16


def clamp_limit(limit: int) -> int:
    """A page size between 1 and :data:`MAX_PAGE`."""
    return max(1, min(limit, MAX_PAGE))


class SqlBase:
    """Holds the engine; every query runs inside :meth:`_read` or :meth:`_write`."""

    def __init__(
        self,
        engine: AsyncEngine,
        audit_lane: SqliteAuditLane | None = None,
        loop_writer: SqliteLoopWriter | None = None,
    ) -> None:
        self._engine = engine
        self._closed = False
        # SQLite files only: the audit group commit's own connection (see _audit_lane), and
        # the connection state writes commit on without pausing (see _loop_writer)
        self._audit_lane = audit_lane
        self._loop_writer = loop_writer
        # the changes recorded by each open write transaction (by connection), and who hears
        # of them once committed
        self._pending: dict[int, list[ChangeRecord]] = {}
        self._change_listener: ChangeListener | None = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    async def ping(self) -> None:
        """Run a trivial query, for health checks.

        Raises:
            StoreError: the database cannot be reached.
        """
        async with self._read("ping the database") as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        """Close every pooled connection. Later calls raise :class:`StoreError`."""
        self._closed = True
        with translated("close the database"):
            if self._loop_writer is not None:
                self._loop_writer.close()
            if self._audit_lane is not None:
                await self._audit_lane.close()
            await self._engine.dispose()

    @asynccontextmanager
    async def _read(self, action: str) -> AsyncIterator[AsyncConnection]:
        self._check_open(action)
        with translated(action):
            async with self._engine.connect() as conn:
                yield conn

    async def state_revision(self) -> int:
        """The revision of everything but the audit log (it grows with every such write).

        Raises:
            StoreError: on failure.
        """
        async with self._read("read the state revision") as conn:
            row = await self._one(conn, select(state_revision.c.revision))
        return int(row.revision) if row is not None else 0

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold a lock named ``name`` shared by every process on this database (PostgreSQL: a
        session advisory lock on a connection of its own) until the block ends; on SQLite a
        no-op (its processes share one machine, and ``roomkey serve`` bootstraps before its
        workers start). Raises StoreError."""
        self._check_open(f"lock {name}")
        if self.dialect != "postgresql":
            yield
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")
        with translated(f"lock {name}"):
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    def watch_changes(self, listener: ChangeListener | None) -> None:
        """Call ``listener`` with the changes of each state write, right after it commits (on
        this process only: other processes read them with :meth:`changes_since`)."""
        self._change_listener = listener

    async def changes_since(self, rev: int, *, limit: int = 1000) -> list[ChangeRecord]:
        """The change feed after revision ``rev``, oldest first, at most ``limit`` rows.

        Raises:
            StoreError: on failure.
        """
        async with self._read("read the change feed") as conn:
            rows = (await conn.execute(_CHANGES_SINCE, {"after": rev, "limit": limit})).all()
        return [ChangeRecord(int(r[0]), r[1], r[2], r[3], float(r[4])) for r in rows]

    async def purge_changes(self, before: float) -> int:
        """Delete change rows older than ``before`` (epoch seconds), always keeping the newest
        one (it tells a node how far the feed goes); how many. Raises StoreError."""
        async with self._write("purge the change feed") as conn:
            newest = select(func.max(changes.c.rev)).scalar_subquery()
            result = await conn.execute(
                delete(changes).where(changes.c.created_at < before, changes.c.rev < newest)
            )
        return int(result.rowcount)

    @asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[WriteConnection]:
        """One transaction, committed when the block exits cleanly, rolled back otherwise.

        A block that changes the state nodes keep in memory records what it changed with
        :meth:`_changed`; the listener set by :meth:`watch_changes` hears of it after commit.
        On a SQLite file the block runs on the loop writer's connection whenever its lock is
        free (see ``_loop_writer``), so the block must not await anything but its statements;
        else, or on PostgreSQL, on a pooled connection.
        """
        self._check_open(action)
        recorded: list[ChangeRecord] = []
        with translated(action):
            writer = self._loop_writer
            on_loop = writer.begin() if writer is not None else None
            if writer is not None and on_loop is not None:
                self._pending[id(on_loop)] = recorded
                try:
                    yield on_loop
                except BaseException:
                    writer.rollback()
                    raise
                finally:
                    del self._pending[id(on_loop)]
                writer.commit()
                if self._audit_lane is not None:
                    self._audit_lane.count_state_write(STATE_WRITE_ROWS)
            else:
                async with self._engine.connect() as conn:
                    await conn.execution_options(**{WRITE_OPTION: True})
                    self._pending[id(conn)] = recorded
                    try:
                        async with conn.begin():
                            yield conn
                    finally:
                        del self._pending[id(conn)]
        if recorded and self._change_listener is not None:
            self._change_listener(recorded)

    async def _changed(
        self, conn: WriteConnection, kind: ChangeKind, project_id: str, ref: str
    ) -> ChangeRecord:
        """Record, in the open write transaction, that it changes ``kind`` ``ref``: the next
        state revision and its row in the change feed (see :class:`ChangeRecord`)."""
        rev = int((await conn.execute(_NEXT_REVISION)).scalar_one())
        change = ChangeRecord(rev, project_id, kind, ref, time.time())
        await conn.execute(
            _INSERT_CHANGE,
            {
                "rev": rev,
                "project_id": project_id,
                "kind": kind,
                "ref": ref,
                "created_at": change.created_at,
            },
        )
        self._pending[id(conn)].append(change)
        return change

    async def _emit(self, conn: WriteConnection, events: Sequence[OutboxEvent]) -> None:
        """Add ``events`` to the outbox inside the open write transaction ``conn`` (they
        commit with the change they report, or roll back with it)."""
        await emit(conn, events)

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise StoreError(f"{action} failed: the store is closed")

    async def _one(self, conn: WriteConnection, query: Select[Any]) -> Any:
        return (await conn.execute(query)).first()

    async def _require_project(self, conn: WriteConnection, project_id: str) -> None:
        result = await conn.execute(_PROJECT_EXISTS, {"project_id": project_id})
        if result.first() is None:
            raise NotFoundError("no such project", project_id=project_id)
