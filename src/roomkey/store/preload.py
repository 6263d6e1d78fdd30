"""Reading every active revocation ahead of the server, on a thread of its own.

With 1,000,000 revocations a node's start was two long steps one after the other: importing
the framework (a second or more of this process's time) and loading the rules (the database's
time for most of it: it scans the table and builds the rules' arrays). ``roomkey serve`` begins
this load as soon as its settings are known (:meth:`RevocationPreload.begin`), so that the
database works while the process imports and bootstraps; the service takes the result when it
opens (``RoomkeyService.open(preload=...)``).

The thread runs the store's own bulk loader (:mod:`roomkey.store._bulk_revocations`) on
connections of its own: plain asyncpg with the connection options the store's engine would use,
or the standard library's sqlite3 on a database file that already exists (opened read-only, so
the thread never creates one). The loader reads, in the same snapshot as the rules, the state
revision and the schema version (:class:`~roomkey.store._bulk_revocations.Marks`).

What the service may rely on:

- The rules reflect exactly the state revision :attr:`PreloadedRevocations.revision`; the
  service applies every change after it from the change feed before it serves, so a revocation
  committed meanwhile (by another node, or while this one bootstraps) is never missed.
- A result comes only from a database at the packaged schema head: a snapshot taken before a
  migration that was still due is thrown away (:meth:`RevocationPreload.take` answers None), as
  is any failure of the thread (it is logged at debug level, and the service loads as it always
  did).
- The thread imports nothing: all it runs is imported before it starts, so it never waits on,
  or deadlocks with, a module the main thread is importing meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from roomkey._gc import paused_gc
from roomkey.errors import ConfigurationError
from roomkey.store._bulk_revocations import Marks, _load_postgres, _load_sqlite
from roomkey.store._engine import check_schema_name
from roomkey.store.migrate import packaged_head
from roomkey.store.records import ActiveRevocations
from roomkey.store.url import parse_store_url

log = logging.getLogger(__name__)

# the preload must never hold up a start for longer than a plain load would take
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 120.0
# SQLAlchemy's own options, which its asyncpg adapter takes before calling asyncpg.connect
_ADAPTER_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")


@dataclass(frozen=True, slots=True)
class PreloadedRevocations:
    """Every active revocation by project (as ``Store.load_active_revocations`` gives them),
    and the state revision they reflect."""

    revision: int
    revocations: dict[str, ActiveRevocations]


class RevocationPreload:
    """One load of every active revocation, running on its own thread from construction."""

    def __init__(
        self, database_url: str, *, schema: str | None = None, now: float | None = None
    ) -> None:
        """Start loading from ``database_url`` (as the settings resolve it; ``schema`` as
        ``open_store`` takes it). Raises ConfigurationError for a URL or schema the store would
        refuse too."""
        self.database_url = database_url
        self._now = int(time.time() if now is None else now)
        self._store_url = parse_store_url(database_url)
        self._head = packaged_head()
        self._connect: dict[str, Any] = {}
        if self._store_url.backend == "postgresql":
            dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
            _, options = dialect.create_connect_args(self._store_url.url)  # type: ignore[no-untyped-call]
            self._connect = {k: v for k, v in options.items() if k not in _ADAPTER_OPTIONS}
            if schema is not None:
                self._connect["server_settings"] = {"search_path": check_schema_name(schema)}
        elif schema is not None:
            raise ConfigurationError("a schema can only be chosen for PostgreSQL")
        self._result: Future[PreloadedRevocations | None] = Future()
        threading.Thread(target=self._run, name="roomkey-preload", daemon=True).start()

    @classmethod
    def begin(cls, database_url: str) -> RevocationPreload | None:
        """A preload of ``database_url``, or None when it cannot even start (the store then
        reports what is wrong with the URL, when the service opens it)."""
        try:
            return cls(database_url)
        except Exception as exc:  # whatever it is, the service's own load decides
            log.debug("no revocation preload: %s", type(exc).__name__)
            return None

    async def take(self) -> PreloadedRevocations | None:
        """The rules, once loaded; None if the load failed or the schema was not at head."""
        return await asyncio.wrap_future(self._result)

    # ---- on the preload's thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            result = asyncio.run(self._load())
        except Exception as exc:  # the service loads by itself instead
            log.debug("the revocation preload failed: %s", type(exc).__name__)
            result = None
        self._result.set_result(result)

    async def _load(self) -> PreloadedRevocations | None:
        loaded: dict[str, ActiveRevocations] = {}
        marks: Marks | None
        with paused_gc():  # nearly every object made here lives on (see roomkey._gc)
            if self._store_url.backend == "postgresql":
                marks = await self._load_postgres(loaded)
            else:
                marks = await self._load_sqlite(loaded)
        if marks is None or marks.versions != [self._head]:
            return None  # a migration was due: this snapshot may predate it
        return PreloadedRevocations(marks.revision, loaded)

    async def _load_postgres(self, loaded: dict[str, ActiveRevocations]) -> Marks:
        options = {**self._connect, "timeout": CONNECT_TIMEOUT_S}
        conns = await asyncio.gather(
            asyncpg.connect(**options, command_timeout=COMMAND_TIMEOUT_S),
            asyncpg.connect(**options, command_timeout=COMMAND_TIMEOUT_S),
            return_exceptions=True,
        )
        try:
            for conn in conns:
                if isinstance(conn, BaseException):
                    raise conn
            return await _load_postgres(conns[0], conns[1], self._now, loaded)
        finally:
            for conn in conns:
                if not isinstance(conn, BaseException):
                    await conn.close()

    async def _load_sqlite(self, loaded: dict[str, ActiveRevocations]) -> Marks | None:
        path = self._store_url.sqlite_path
        if path is None or not path.exists():
            return None  # a first start: nothing to load, and no file to create here
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("BEGIN")  # one snapshot for the rules and their marks
            return await _load_sqlite(_SqliteReader(db), self._now, loaded)
        finally:
            db.close()


class _SqliteReader:
    """A sqlite3 connection with the one method of aiosqlite's that the bulk loader calls."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute_fetchall(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        return self._db.execute(sql, parameters).fetchall()
