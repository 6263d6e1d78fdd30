"""Storage errors: every database failure a caller can see, already translated.

No SQLAlchemy, asyncpg or sqlite3 exception leaves :mod:`roomkey.store`; each is turned into one of
these at the boundary (``raise StoreError(...) from exc``), so callers match on roomkey codes only.
The classes are defined in :mod:`roomkey.errors`, the one error tree, and named here as the
store's own.
"""

from __future__ import annotations

from roomkey.errors import ConflictError, InvalidCursorError, NotFoundError, StoreError

__all__ = ["ConflictError", "InvalidCursorError", "NotFoundError", "StoreError"]
