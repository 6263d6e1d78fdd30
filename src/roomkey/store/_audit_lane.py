"""A dedicated SQLite connection for the audit group commit.

Every issued token waits for its audit row, so the cost of one commit is on the token
endpoint's critical path. Through SQLAlchemy and aiosqlite a commit takes several thread
hand-offs and about a millisecond of Python per batch; this lane does the whole batch (BEGIN,
one executemany, COMMIT) in one call on its own thread, with the same pragmas and the same
all-or-nothing contract. PostgreSQL keeps the SQLAlchemy path (its cost is the network).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from roomkey.store.errors import ConflictError, StoreError
from roomkey.store.records import AuditRecord

_COLUMNS = (
    "project_id",
    "jti",
    "kid",
    "room",
    "identity",
    "role",
    "dialect",
    "endpoint",
    "caller",
    "issued_at",
    "expires_at",
)
_INSERT = f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_ACTION = "record issued tokens"


class SqliteAuditLane:
    """Writes audit batches on one thread over one ``sqlite3`` connection."""

    def __init__(self, path: Path, pragmas: Sequence[str], timeout_s: float) -> None:
        self._path, self._pragmas, self._timeout_s = path, tuple(pragmas), timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roomkey-audit")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def insert(self, rows: Sequence[AuditRecord]) -> None:
        """Insert ``rows`` in one transaction; raises ConflictError or StoreError."""
        if self._closed:
            raise StoreError(f"{_ACTION} failed: the store is closed")
        values = [tuple(getattr(row, c) for c in _COLUMNS) for row in rows]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._insert, values)

    def _insert(self, values: list[tuple[object, ...]]) -> None:
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, values)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"{_ACTION}: conflicts with an existing row") from exc
        except (sqlite3.Error, OSError) as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            raise StoreError(f"{_ACTION} failed", reason=reason[:200]) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            for pragma in self._pragmas:
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        """Close the connection and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
