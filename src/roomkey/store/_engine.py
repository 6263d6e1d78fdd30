"""Engine construction: connection settings that every connection of a store must carry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from roomkey._files import private_dir, private_file, restrict
from roomkey.errors import ConfigurationError
from roomkey.store._loop_writer import SqliteLoopWriter
from roomkey.store._translate import translated
from roomkey.store.url import StoreURL

# execution option marking a connection that will write: SQLite then takes the write lock at
# BEGIN, so two writers queue on busy_timeout instead of failing on a lock upgrade mid-transaction
WRITE_OPTION = "roomkey_write"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# busy_timeout first: the switch to WAL on a new file needs a lock that another connection
# opening at the same moment may hold
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def create_engine(store_url: StoreURL, *, schema: str | None = None) -> AsyncEngine:
    """An async engine for ``store_url``; ``schema`` (PostgreSQL only) sets the search_path.

    Raises:
        ConfigurationError: ``schema`` is given for SQLite or is not a plain lower-case name.
        StoreError: the SQLite file or its directory cannot be created or made private.
    """
    if store_url.backend == "sqlite":
        if schema is not None:
            raise ConfigurationError("a schema can only be chosen for PostgreSQL")
        return _sqlite_engine(store_url)
    return _postgres_engine(store_url, schema)


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain identifier (so it never needs quoting).

    Raises:
        ConfigurationError: it is not ``[a-z_][a-z0-9_]*`` of at most 63 characters.
    """
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError("a schema name must match [a-z_][a-z0-9_]*", schema=schema)
    return schema


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _sqlite_engine(store_url: StoreURL) -> AsyncEngine:
    if store_url.sqlite_path is not None:
        with translated("create the database file"):
            make_private_database(store_url.sqlite_path)
    engine = create_async_engine(
        store_url.url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def create_loop_writer(path: Path) -> SqliteLoopWriter:
    """The connection a SQLite file's state writes commit on from the event loop's thread.

    It carries every pragma of the engine's connections; it opens on first use.
    """
    return SqliteLoopWriter(path, SQLITE_PRAGMAS, _json_dumps, orjson.loads)


def make_private_database(path: Path) -> None:
    """Create the SQLite file with mode 0600 before SQLite opens it, or make an existing one so.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's permissions, so they are
    0600 too (the audit log and the sealed secrets are in them); ones left by an older start are
    tightened here. A missing directory is created 0700; an existing one is the operator's.

    Raises:
        OSError: the directory or the file cannot be created, or their modes cannot be set.
    """
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        restrict(path.with_name(path.name + suffix))


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # stop the sqlite3 module from issuing its own BEGINs: _on_sqlite_begin issues them, so DDL
    # is transactional and read transactions see one snapshot
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    writes = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _postgres_engine(store_url: StoreURL, schema: str | None) -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": check_schema_name(schema)}
    return create_async_engine(
        store_url.url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args=connect_args,
        pool_pre_ping=True,
    )
