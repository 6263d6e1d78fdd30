"""SQLite state writes on the event loop's thread, each transaction run without a pause.

SQLite has one write lock per database file. Through ``aiosqlite`` every statement of a
transaction is a hop to the connection's thread and back, and the way back waits for the event
loop's next turn; under load (32 clients) a revocation held the lock for 3 ms (median) to
30 ms (p99) across those turns. Every other writer meanwhile waited in SQLite's busy handler,
which sleeps and polls (1, 2, 5, 10 … 100 ms) instead of being woken when the lock is freed:
room and revocation writes waited up to a second for ``BEGIN IMMEDIATE``, and the audit
batches that every token waits for were pushed to the audit lane's thread to poll the same way
(40 ms median, 430 ms p99), so minting stalled behind them.

Here a write takes the lock with ``BEGIN IMMEDIATE`` on a connection of its own, runs its
statements and commits without ever yielding to the loop: the lock is held for the statements'
CPU time (well under a millisecond), no two writes of this process ever meet at the file lock,
and an audit batch (also committed on the loop's thread, see ``_audit_lane``) never finds the
lock taken by this process. In WAL mode with ``synchronous=NORMAL`` a commit appends to the WAL
and never waits for the disk. The connection never checkpoints by itself (that waits for the
disk); the audit lane's thread does, counting these commits too.

When another process holds the lock (a second worker, a CLI command), :meth:`begin` answers
None at once and the caller takes the ordinary path, which waits on a thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, CursorResult, Engine, StaticPool, create_engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.base import Executable

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class LoopConnection:
    """What a write's body sees: ``await conn.execute(...)`` that runs at once, no pause."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        """The SQLite dialect."""
        return self._conn.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        """Run ``statement`` now, on this thread (SQLAlchemy errors propagate as raised)."""
        return self._conn.execute(statement, parameters)


class SqliteLoopWriter:
    """One connection for state writes, used only on the thread that first wrote with it."""

    def __init__(
        self,
        path: Path,
        pragmas: tuple[str, ...],
        json_serializer: Callable[[Any], str],
        json_deserializer: Callable[[str | bytes], Any],
    ) -> None:
        self._pragmas = pragmas
        self._engine: Engine = create_engine(
            URL.create("sqlite", database=str(path)),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False, "isolation_level": None},
            json_serializer=json_serializer,
            json_deserializer=json_deserializer,
            isolation_level="AUTOCOMMIT",  # BEGIN IMMEDIATE and COMMIT are sent by this class
        )
        self._conn: Connection | None = None
        self._raw: sqlite3.Connection | None = None
        self._thread: int | None = None
        self._busy = False  # a transaction is open (its body paused, against the rule)

    def begin(self) -> LoopConnection | None:
        """The connection inside ``BEGIN IMMEDIATE``; None if the lock or this writer is taken.

        None also when called from another thread than the first caller's (its loop owns the
        connection). Raises sqlite3 or SQLAlchemy errors for any other failure.
        """
        if self._busy or self._thread not in (None, threading.get_ident()):
            return None
        raw = self._connect()
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in _BUSY:
                return None
            raise
        self._busy = True
        assert self._conn is not None
        return LoopConnection(self._conn)

    def commit(self) -> None:
        """Commit the open transaction (rolled back, and the error raised, if that fails)."""
        assert self._raw is not None
        try:
            self._raw.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        self._busy = False

    def rollback(self) -> None:
        """Roll the open transaction back (nothing to do if there is none)."""
        assert self._raw is not None
        try:
            if self._raw.in_transaction:
                self._raw.execute("ROLLBACK")
        finally:
            self._busy = False

    def close(self) -> None:
        """Close the connection (idempotent); a later :meth:`begin` opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = self._raw = None
        self._engine.dispose()

    def _connect(self) -> sqlite3.Connection:
        if self._raw is None:
            self._thread = threading.get_ident()
            conn = self._engine.connect()
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            for pragma in (*self._pragmas, "PRAGMA busy_timeout=0", "PRAGMA wal_autocheckpoint=0"):
                raw.execute(pragma)
            self._conn, self._raw = conn, raw
        return self._raw
