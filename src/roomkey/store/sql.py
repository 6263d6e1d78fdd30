"""The SQLAlchemy Core implementation of :class:`~roomkey.store.protocol.Store`, for SQLite
(``aiosqlite``) and PostgreSQL (``asyncpg``), and :func:`open_store`.

The operations live in one mixin per resource group; this module assembles them.
"""

from __future__ import annotations

from roomkey.store._audit_lane import SqliteAuditLane
from roomkey.store._bans import Bans
from roomkey.store._engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_PRAGMAS,
    create_engine,
    create_loop_writer,
)
from roomkey.store._projects_keys import ProjectsAndKeys
from roomkey.store._revocations_audit import RevocationsAndAudit
from roomkey.store._rooms_roles import RoomsAndRoles
from roomkey.store._webhooks import Webhooks
from roomkey.store.migrate import upgrade_engine
from roomkey.store.protocol import Store
from roomkey.store.url import parse_store_url


class SqlStore(ProjectsAndKeys, RoomsAndRoles, RevocationsAndAudit, Bans, Webhooks):
    """A :class:`Store` over one async SQLAlchemy engine. Build it with :func:`open_store`."""

    def __repr__(self) -> str:
        return f"SqlStore({self.dialect!r})"


async def open_store(url: str, *, schema: str | None = None) -> SqlStore:
    """Connect to ``url``, migrate the schema to head, and return the store.

    ``url`` is what a user writes (``sqlite:///./.roomkey/roomkey.db``,
    ``postgresql://user@host/db``); ``schema`` picks a PostgreSQL schema (created if missing).
    SQLite connections run in WAL mode with ``synchronous=NORMAL``, foreign keys on and a busy
    timeout; the database file's directory is created if needed. On a SQLite file, writes
    commit on the calling event loop's thread whenever no other process holds the write lock.

    Raises:
        ConfigurationError: the URL or schema name is not usable.
        StoreError: the database cannot be reached or migrated.
    """
    store_url = parse_store_url(url)
    engine = create_engine(store_url, schema=schema)
    try:
        await upgrade_engine(engine, schema=schema)
    except BaseException:
        await engine.dispose()
        raise
    if store_url.backend == "sqlite" and store_url.sqlite_path is not None:
        path = store_url.sqlite_path
        lane = SqliteAuditLane(path, SQLITE_PRAGMAS, SQLITE_BUSY_TIMEOUT_MS / 1000)
        return SqlStore(engine, lane, create_loop_writer(path))
    return SqlStore(engine)


def _implements_store(store: SqlStore) -> Store:
    # mypy proves here that SqlStore satisfies the Store protocol
    return store


__all__ = ["SqlStore", "open_store"]
