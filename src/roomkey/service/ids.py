"""Identifiers the server makes: room ids, API keys, secrets, record ids."""

from __future__ import annotations

import secrets
import string

_ROOM_ALPHABET = string.ascii_lowercase + string.digits
_KEY_ALPHABET = string.ascii_letters + string.digits


def new_room_id() -> str:
    """``abcd-efgh-ijkl``: three groups of four lowercase letters or digits (62 bits)."""
    chars = "".join(secrets.choice(_ROOM_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def new_api_key() -> str:
    """An API key id in LiveKit's style: ``API`` and 12 random letters or digits."""
    return "API" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(12))


def new_secret() -> str:
    """A 256-bit API secret, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    """A record id such as ``rev_3kT...``."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def new_identity() -> str:
    """A generated participant identity, for requests that name none."""
    return "user-" + secrets.token_hex(4)
