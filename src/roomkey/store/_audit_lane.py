"""Dedicated SQLite connections for the audit group commit.

Every issued token waits for its audit row, so the cost of one commit is on the token
endpoint's critical path. A batch (BEGIN IMMEDIATE, one executemany, COMMIT) is written in one
call, with the same pragmas and the same all-or-nothing contract as the rest of the store.

Where it runs: in WAL mode with ``synchronous=NORMAL`` a commit appends pages to the WAL and
never waits for the disk, so a batch costs a few hundred microseconds of CPU. Handing that to a
thread cost more than doing it (measured under load on ``POST /token``: the thread hop per batch
and the GIL traffic of its ``executemany`` cost about a fifth of the throughput), so a batch is
committed on the event loop's thread whenever the write lock is free at once (busy timeout 0).
When another connection holds it, the batch goes to the lane's own thread, which waits for the
lock as every other writer does: the loop never waits for a lock. The one step that waits for
the disk, the WAL checkpoint, never runs on the loop: the loop's connection has automatic
checkpoints off, and the thread checkpoints after every ``checkpoint_rows`` rows (see
:meth:`SqliteAuditLane._checkpoint_if_due`), counting the state writes that commit on the
loop's thread as well (``_loop_writer``: they never checkpoint by themselves either).
PostgreSQL keeps the SQLAlchemy path (its cost is the network).
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
_row_values = operator.attrgetter(*_COLUMNS)  # an AuditRecord's values in _COLUMNS order
# SQLite's own automatic checkpoint comes every 1,000 pages (4 MiB of WAL); a batched audit row
# writes well under a page, so this keeps the WAL about as short as the default does.
CHECKPOINT_ROWS = 4_000

Values = list[tuple[object, ...]]


class SqliteAuditLane:
    """Writes audit batches on the loop's thread when it can, else on one worker thread."""

    def __init__(
        self,
        path: Path,
        pragmas: Sequence[str],
        timeout_s: float,
        *,
        checkpoint_rows: int = CHECKPOINT_ROWS,
    ) -> None:
        self._path, self._pragmas, self._timeout_s = path, tuple(pragmas), timeout_s
        self._checkpoint_rows = checkpoint_rows
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roomkey-audit")
        self._conn: sqlite3.Connection | None = None  # the worker thread's
        self._loop_conn: sqlite3.Connection | None = None  # the event loop thread's
        self._loop_thread: int | None = None
        self._rows_since_checkpoint = 0
        self._bulk_checkpoint: Future[None] | None = None
        self._closed = False

    async def insert(self, rows: Sequence[AuditRecord]) -> None:
        """Insert ``rows`` in one transaction; raises ConflictError or StoreError."""
        if self._closed:
            raise StoreError(f"{_ACTION} failed: the store is closed")
        values = [_row_values(row) for row in rows]
        loop = asyncio.get_running_loop()
        if not self._insert_now(values):
            await loop.run_in_executor(self._executor, self._insert, values)
        self._rows_since_checkpoint += len(values)
        await self._checkpoint_if_due(loop)

    def count_state_write(self, rows: int) -> None:
        """Count a state write committed on the loop (see ``_loop_writer``); never waits.

        That connection never checkpoints by itself either, so its commits count towards the
        next checkpoint here, as about ``rows`` audit rows each. Both passes run on the thread
        without being waited for: a state write must not pause after its commit (its caller
        still has memory to update), and with writes this rare the short second pass is
        seldom overtaken.
        """
        self._rows_since_checkpoint += rows
        bulk = self._bulk_checkpoint
        if bulk is not None:
            if bulk.done():
                self._bulk_checkpoint = None
                self._executor.submit(self._checkpoint)
            return
        if self._rows_since_checkpoint >= self._checkpoint_rows:
            self._rows_since_checkpoint = 0
            self._bulk_checkpoint = self._executor.submit(self._checkpoint)

    def _insert_now(self, values: Values) -> bool:
        """Commit on this thread if the write lock is free now; False if it is not."""
        if self._loop_thread not in (None, threading.get_ident()):
            return False  # the connection belongs to another thread's loop
        conn = self._loop_connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False
            raise _translated(exc) from exc
        except (sqlite3.Error, OSError) as exc:
            raise _translated(exc) from exc
        _write_batch(conn, values)
        return True

    def _insert(self, values: Values) -> None:
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
        except (sqlite3.Error, OSError) as exc:
            raise _translated(exc) from exc
        _write_batch(conn, values)

    async def _checkpoint_if_due(self, loop: asyncio.AbstractEventLoop) -> None:
        """Checkpoint in two steps: the bulk beside new commits, the rest between two batches.

        A checkpoint that new commits keep overtaking never lets the WAL restart from its
        beginning (it would grow for ever), and one that holds up the batches holds up their
        tokens for the whole copy (measured on ``POST /token``: p99 9 ms without checkpoints,
        15 ms with one blocking every 4,000 rows). So the bulk is copied on the thread while
        batches go on; once it is done, the next batch waits for a second pass that copies only
        what was committed meanwhile, and the next write restarts the WAL.
        """
        bulk = self._bulk_checkpoint
        if bulk is not None:
            if bulk.done():
                self._bulk_checkpoint = None
                await loop.run_in_executor(self._executor, self._checkpoint)
            return
        if self._rows_since_checkpoint >= self._checkpoint_rows:
            self._rows_since_checkpoint = 0
            # a thread future: done() turns true on the thread, with no loop pass needed
            self._bulk_checkpoint = self._executor.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        # PASSIVE: copies what it can without blocking writers or readers. A failure is left
        # for the next one (the WAL is then only longer; nothing is lost).
        with contextlib.suppress(sqlite3.Error, OSError):
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _loop_connection(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            self._loop_thread = threading.get_ident()
            conn = self._open()
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._loop_conn = conn
        return self._loop_conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        # Each connection is used by one thread at a time (the loop's is guarded by
        # _loop_thread); close() may run on another, hence check_same_thread=False.
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            for pragma in self._pragmas:
                conn.execute(pragma)
        except (sqlite3.Error, OSError) as exc:
            raise _translated(exc) from exc
        return conn

    async def close(self) -> None:
        """Close both connections and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the last connection to close checkpoints the WAL
            self._conn = None


def _write_batch(conn: sqlite3.Connection, values: Values) -> None:
    """Insert and commit inside the transaction the caller began (rolled back on failure)."""
    try:
        try:
            conn.executemany(_INSERT, values)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except (sqlite3.Error, OSError) as exc:
        raise _translated(exc) from exc


def _translated(exc: BaseException) -> StoreError:
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"{_ACTION}: conflicts with an existing row")
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return StoreError(f"{_ACTION} failed", reason=reason[:200])
