"""The one place driver exceptions become roomkey errors (SQLAlchemy, asyncpg, sqlite3, OS)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from roomkey.errors import RoomkeyError
from roomkey.store.errors import ConflictError, StoreError

_FOREIGN: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error, OSError, TimeoutError)
try:  # asyncpg is only installed where PostgreSQL is used
    import asyncpg

    _FOREIGN += (asyncpg.PostgresError, asyncpg.InterfaceError)
except ImportError:  # pragma: no cover
    pass

_REASON_MAX_CHARS = 200


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise any database or driver failure inside the block as a :class:`StoreError`.

    Raises:
        ConflictError: a unique, primary-key or foreign-key constraint refused the write.
        StoreError: any other database, driver, network or file failure.
    """
    try:
        yield
    except RoomkeyError:
        raise
    except IntegrityError as exc:
        # values stay out of the message: the driver's detail can quote row contents
        raise ConflictError(f"{action}: conflicts with an existing row") from exc
    except _FOREIGN as exc:
        raise StoreError(f"{action} failed", reason=_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    """A short, parameter-free description (SQLAlchemy's str() appends SQL and bound values)."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = (str(inner).strip().splitlines() or [""])[0]
    return f"{type(inner).__name__}: {first_line}"[:_REASON_MAX_CHARS]
