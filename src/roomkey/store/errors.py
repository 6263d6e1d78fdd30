"""Storage errors: every database failure a caller can see, already translated.

No SQLAlchemy, asyncpg or sqlite3 exception leaves :mod:`roomkey.store`; each is turned into one of
these at the boundary (``raise StoreError(...) from exc``), so callers match on roomkey codes only.
"""

from __future__ import annotations

from roomkey.errors import RoomkeyError


class StoreError(RoomkeyError):
    """The database could not be reached, migrated, read or written."""

    code = "store_error"


class NotFoundError(StoreError):
    """The row a mutation names does not exist (``get_*`` methods return ``None`` instead)."""

    code = "not_found"


class ConflictError(StoreError):
    """A write collides with an existing row: a duplicate id, kid, custom room id or jti."""

    code = "conflict"


class InvalidCursorError(StoreError):
    """A pagination cursor was not produced by this store (tampered, truncated or foreign)."""

    code = "invalid_cursor"


__all__ = ["ConflictError", "InvalidCursorError", "NotFoundError", "StoreError"]
