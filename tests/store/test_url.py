"""User database URLs to async driver URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomkey.errors import ConfigurationError
from roomkey.store import parse_store_url, to_async_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./.roomkey/roomkey.db", "sqlite+aiosqlite:///./.roomkey/roomkey.db"),
        ("sqlite:////var/lib/rk.db", "sqlite+aiosqlite:////var/lib/rk.db"),
        ("sqlite+aiosqlite:///rk.db", "sqlite+aiosqlite:///rk.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://postgres@127.0.0.1/test", "postgresql+asyncpg://postgres@127.0.0.1/test"),
        ("postgres://u:pw@db:5433/rk", "postgresql+asyncpg://u:pw@db:5433/rk"),
        ("postgresql+psycopg://u@db/rk", "postgresql+asyncpg://u@db/rk"),
        ("postgresql://u@db/rk?sslmode=require", "postgresql+asyncpg://u@db/rk?ssl=require"),
    ],
)
def test_to_async_url(given: str, expected: str) -> None:
    assert to_async_url(given) == expected


def test_sqlite_path_is_known_and_memory_has_none() -> None:
    assert parse_store_url("sqlite:///./.roomkey/roomkey.db").sqlite_path == Path(
        "./.roomkey/roomkey.db"
    )
    assert parse_store_url("sqlite:///:memory:").sqlite_path is None
    assert parse_store_url("postgresql://u@h/d").backend == "postgresql"


def test_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(parse_store_url("postgresql://u:s3cret@h/d"))


@pytest.mark.parametrize(
    "bad", ["mysql://u@h/d", "", "::", "postgresql://u@h/d?sslmode=bogus", "redis://h"]
)
def test_unsupported_urls_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_store_url(bad)
