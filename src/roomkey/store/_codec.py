"""Records to rows and back, and opaque keyset-pagination cursors."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any, TypeVar

import orjson
from sqlalchemy.engine import Row

from roomkey.store.errors import InvalidCursorError
from roomkey.store.records import AuditRecord, ProjectRecord, ProjectSettings

R = TypeVar("R")


def to_row(record: object) -> dict[str, Any]:
    """Column values for a record (field names are column names; nested settings become JSON)."""
    row = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}  # type: ignore[arg-type]
    if isinstance(record, ProjectRecord):
        row["settings"] = record.settings.to_json()
    if isinstance(record, AuditRecord) and record.id is None:
        del row["id"]
    return row


def from_row(cls: type[R], row: Row[Any]) -> R:
    """A record of type ``cls`` from a selected row."""
    values = dict(row._mapping)
    if cls is ProjectRecord:
        values["settings"] = ProjectSettings.from_json(values["settings"])
    if "secret_ciphertext" in values:
        # asyncpg may hand back memoryview-like buffers; records always hold bytes
        values["secret_ciphertext"] = bytes(values["secret_ciphertext"])
    return cls(**values)


def encode_cursor(*values: int | str) -> str:
    """An opaque cursor holding the sort key of the last row of a page."""
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *types: type[Any]) -> tuple[Any, ...]:
    """The sort key inside ``cursor``, checked against the expected ``types``.

    Raises:
        InvalidCursorError: the cursor was not made by :func:`encode_cursor` for this listing.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursorError("the pagination cursor is not valid") from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise InvalidCursorError("the pagination cursor is not valid")
    # bool is an int subclass; a cursor never holds one
    if any(type(v) is not t for v, t in zip(values, types, strict=True)):
        raise InvalidCursorError("the pagination cursor is not valid")
    return tuple(values)
