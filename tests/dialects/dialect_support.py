"""Helpers shared by the dialect tests: fixed constants and a sample :class:`Claims`."""

from __future__ import annotations

from typing import Any

from roomkey.claims import Claims
from roomkey.dialects import Dialect
from roomkey.grants import Grant

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000


def make_claims(**changes: Any) -> Claims:
    """A plain guest-like room token for ``alice`` in ``standup``, with fixed times."""
    base = Claims(
        api_key=API_KEY,
        identity="alice",
        room="standup",
        grant=Grant(),
        issued_at=NOW,
        not_before=NOW,
        expires_at=NOW + 900,
        jti="jti-0001",
    )
    return base.replace(**changes)


def round_trip(dialect: Dialect, claims: Claims) -> Claims:
    """``from_wire(to_wire(claims))``, asserting the dialect reports no unknown key of its own."""
    read = dialect.from_wire(dialect.to_wire(claims))
    assert read.unknown_keys == ()
    return read.claims
