"""Turn the database URLs users write into the async-driver URLs SQLAlchemy needs.

``sqlite:///./.roomkey/roomkey.db`` becomes ``sqlite+aiosqlite:///./.roomkey/roomkey.db`` and
``postgresql://user@host/db`` (or ``postgres://``) becomes ``postgresql+asyncpg://user@host/db``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from roomkey.errors import ConfigurationError

Backend = Literal["sqlite", "postgresql"]

_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}
# libpq's sslmode spelled the way asyncpg takes it
_SSLMODE_TO_ASYNCPG = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed database URL: which backend, the async URL, and the SQLite file if any."""

    backend: Backend
    url: URL
    # the database file for SQLite on disk; None for PostgreSQL and in-memory SQLite
    sqlite_path: Path | None

    def __repr__(self) -> str:
        return f"StoreURL({self.backend!r}, {self.url.render_as_string(hide_password=True)!r})"


def parse_store_url(url: str) -> StoreURL:
    """Parse a user-supplied database URL into its async form.

    Raises:
        ConfigurationError: the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError("the database URL cannot be parsed") from exc
    if parsed.drivername in _SQLITE_DRIVERS:
        return _sqlite(parsed)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return StoreURL("postgresql", _postgres(parsed), None)
    raise ConfigurationError(
        "unsupported database URL: use sqlite:///path or postgresql://...",
        scheme=parsed.drivername,
    )


def to_async_url(url: str) -> str:
    """The async-driver URL for ``url``, password included (never log the result).

    Raises:
        ConfigurationError: as :func:`parse_store_url`.
    """
    return parse_store_url(url).url.render_as_string(hide_password=False)


def _sqlite(parsed: URL) -> StoreURL:
    url = parsed.set(drivername="sqlite+aiosqlite")
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
    return StoreURL("sqlite", url, None if in_memory else Path(database))


def _postgres(parsed: URL) -> URL:
    url = parsed.set(drivername="postgresql+asyncpg")
    sslmode = url.query.get("sslmode")
    if sslmode is None:
        return url
    if not isinstance(sslmode, str) or sslmode not in _SSLMODE_TO_ASYNCPG:
        raise ConfigurationError("unsupported sslmode in the database URL", sslmode=str(sslmode))
    return url.difference_update_query(["sslmode"]).update_query_dict({"ssl": sslmode})


__all__ = ["Backend", "StoreURL", "parse_store_url", "to_async_url"]
