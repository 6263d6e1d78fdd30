"""Schema migrations, run programmatically with Alembic (no alembic.ini needed at runtime).

Concurrent upgrades are safe: PostgreSQL serialises them on an advisory lock, SQLite on its write
lock (``BEGIN IMMEDIATE``), and each upgrade is one transaction, so a failed one leaves no trace.

A database already at the packaged head is recognised with one query, without importing Alembic
(a third of a second of a node's start-up, twice per ``roomkey serve``).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from roomkey.errors import StoreError
from roomkey.store._engine import WRITE_OPTION, check_schema_name, create_engine
from roomkey.store._translate import translated
from roomkey.store.url import parse_store_url

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = "roomkey.store:migrations"
VERSION_TABLE = "roomkey_alembic_version"
_SQLITE_LOCKED_RETRIES = 5
# arbitrary constant shared by every roomkey node: "roomkey" in ASCII
_PG_MIGRATION_LOCK = 0x726F6F6D6B6579


_VERSIONS = Path(__file__).with_name("migrations") / "versions"
_REVISION_FILE = re.compile(r"rev_(\d{4})_\w+\.py")


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of roomkey (as Alembic reads it)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head"
    return head


def packaged_head() -> str:
    """The newest revision shipped, from the migration files' names (``rev_0005_*.py``), without
    Alembic; a test holds it equal to :func:`head_revision`."""
    numbers = [m.group(1) for p in _VERSIONS.iterdir() if (m := _REVISION_FILE.fullmatch(p.name))]
    return max(numbers)


async def upgrade_engine(engine: AsyncEngine, *, schema: str | None = None) -> None:
    """Bring the database behind ``engine`` to the head revision (a no-op when it is there).

    Raises:
        StoreError: the database cannot be reached or a migration fails.
    """
    if await _at_head(engine):
        return
    for attempt in range(_SQLITE_LOCKED_RETRIES + 1):
        try:
            with translated("migrate the database"):
                async with engine.connect() as conn:
                    await conn.execution_options(**{WRITE_OPTION: True})
                    async with conn.begin():
                        await _lock_postgres(conn, schema)
                        await conn.run_sync(_upgrade_to_head)
            return
        except StoreError as exc:
            # SQLite answers "locked" without waiting when several connections open a new file
            # at once (seen ~1 in 10 under load with four at a time); the upgrade is one
            # transaction, so trying it again is safe
            locked = "database is locked" in str(exc.details.get("reason", ""))
            if not locked or attempt == _SQLITE_LOCKED_RETRIES:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


async def _at_head(engine: AsyncEngine) -> bool:
    """Whether the database is at the packaged head already (one query; False on any doubt,
    such as a database without the version table yet)."""
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            versions = [row[0] for row in result.all()]
    except Exception:  # no table yet, or anything else: the full path decides (and reports)
        return False
    return versions == [packaged_head()]


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration.

    Raises:
        StoreError: the database cannot be reached.
    """
    with translated("read the schema revision"):
        async with engine.connect() as conn:
            return await conn.run_sync(_read_revision)


def upgrade(url: str, *, schema: str | None = None) -> str:
    """Migrate the database at ``url`` to head, for ``roomkey db upgrade``; returns the revision.

    Raises:
        ConfigurationError: the URL or schema name is not usable.
        StoreError: the database cannot be reached or a migration fails.
    """
    return asyncio.run(_upgrade_url(url, schema))


async def _upgrade_url(url: str, schema: str | None) -> str:
    engine = create_engine(parse_store_url(url), schema=schema)
    try:
        await upgrade_engine(engine, schema=schema)
        revision = await current_revision(engine)
    finally:
        await engine.dispose()
    return revision or ""


async def _lock_postgres(conn: AsyncConnection, schema: str | None) -> None:
    if conn.dialect.name != "postgresql":
        return
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    if schema is not None:
        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {check_schema_name(schema)}"))


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _read_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


__all__ = [
    "alembic_config",
    "current_revision",
    "head_revision",
    "packaged_head",
    "upgrade",
    "upgrade_engine",
]
