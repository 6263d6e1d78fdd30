"""The claims of one access token, independent of any wire format.

:class:`Claims` is what the minter writes and what the verifier returns; each dialect maps it to
and from its own payload layout.
"""

from __future__ import annotations

import binascii
import json
import os
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from roomkey._codec import MAX_JSON_DEPTH, json_dumps, nested_deeper_than
from roomkey.errors import InvalidClaimValueError, MetadataTooLargeError, NestedTooDeepError
from roomkey.grants import Grant

# Metadata (and a token's attributes, together) are at most this many characters as text: a
# string counts its own characters (what LiveKit carries in its ``metadata`` claim), any other
# JSON value the characters of its compact JSON form. Characters, not bytes, so that the API's
# JSON Schema states the same limit (``maxLength`` counts characters).
MAX_METADATA_CHARS = 5120
MAX_TEXT = 256  # identity, room, name, role: generous for ids, small enough to log
# A claim sits one level inside the payload object, whose nesting the verifier bounds: a claim
# nested deeper would make a token that the minter signs and every verifier refuses.
MAX_CLAIM_DEPTH = MAX_JSON_DEPTH - 1


_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})


class Claims(NamedTuple):
    """Everything a token says. Times are integer seconds since the epoch.

    Immutable. A named tuple rather than a frozen dataclass because one is built per token on
    both hot paths, and a frozen dataclass costs several times more to construct.
    """

    # the API key that issued the token (``iss`` / ``apikey``)
    api_key: str
    # the participant (``sub`` / ``participantId`` / ``peerId``); None for API tokens
    identity: str | None
    # the room the token is bound to; None for a token not bound to a room
    room: str | None
    # what the holder may do
    grant: Grant
    # registered times; always set on minted tokens, possibly None on a token being inspected
    issued_at: int | None
    not_before: int | None
    expires_at: int | None
    # unique token id, the handle for revocation
    jti: str | None = None
    # role name the grant started from (informational; the grant is authoritative)
    role: str | None = None
    # display name
    name: str | None = None
    # any JSON value, at most MAX_METADATA_CHARS characters as text; None when absent
    metadata: Any = None
    # string→string map
    attributes: Mapping[str, str] = _NO_ATTRIBUTES
    # audience (native only)
    audience: str | None = None
    # LiveKit's participant kind (standard, ingress, egress, sip, agent)
    kind: str | None = None
    # LiveKit's room configuration object, carried as given
    room_config: Mapping[str, Any] | None = None

    def replace(self, **changes: Any) -> Claims:
        """A copy with some fields changed."""
        return self._replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json`` output, the server, and inspection)."""
        out: dict[str, Any] = {
            "api_key": self.api_key,
            "identity": self.identity,
            "room": self.room,
            "role": self.role,
            "name": self.name,
            "grant": self.grant.to_dict(),
            "metadata": self.metadata,
            "attributes": dict(self.attributes),
            "issued_at": self.issued_at,
            "not_before": self.not_before,
            "expires_at": self.expires_at,
            "jti": self.jti,
        }
        for extra in ("audience", "kind", "room_config"):
            if getattr(self, extra) is not None:
                out[extra] = getattr(self, extra)
        return out


# Standard base64's alphabet to the base64url characters in ASCII order: text encoded with it
# sorts as its bytes do.
_SORTABLE = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
)


def new_jti(now_s: float | None = None) -> str:
    """A unique token id: 48 bits of milliseconds (``now_s``, default the wall clock), 80 random.

    Ids minted later sort later (22 base64url characters, in an order-preserving alphabet), so
    the audit log's unique index on ``jti`` grows at its end instead of touching a random page
    per token (measured: about a seventh of the WAL pages written, a checkpoint 6x shorter). The
    time it shows is the token's ``iat``, which the token carries anyway; 80 random bits make a
    collision within one millisecond negligible. Never derived from the token's content.
    """
    ms = int((time.time() if now_s is None else now_s) * 1000) & 0xFFFF_FFFF_FFFF
    raw = ms.to_bytes(6, "big") + os.urandom(10)  # what secrets.token_bytes calls, one call less
    return binascii.b2a_base64(raw, newline=False)[:22].translate(_SORTABLE).decode("ascii")


def check_text(value: object, what: str, *, required: bool = False) -> str | None:
    """A short printable string, or None when absent and not required."""
    if type(value) is str and 0 < len(value) <= MAX_TEXT and value.isprintable():
        return value  # the common case, every check at once
    if value is None or value == "":
        if required:
            raise InvalidClaimValueError(f"{what} is required", field=what)
        return None
    if not isinstance(value, str):
        raise InvalidClaimValueError(f"{what} must be a string", field=what)
    if len(value) > MAX_TEXT:
        raise InvalidClaimValueError(f"{what} is longer than {MAX_TEXT} characters", field=what)
    if not value.isprintable():
        raise InvalidClaimValueError(f"{what} contains control characters", field=what)
    return value


def check_nesting(value: Any, field: str) -> None:
    """Raise :class:`NestedTooDeepError` when ``value`` nests deeper than a claim may."""
    if nested_deeper_than(value, MAX_CLAIM_DEPTH):
        raise NestedTooDeepError(
            f"{field} is nested deeper than {MAX_CLAIM_DEPTH} levels",
            field=field,
            limit=MAX_CLAIM_DEPTH,
        )


def check_metadata(value: Any, max_chars: int = MAX_METADATA_CHARS) -> Any:
    """Any JSON value of at most ``max_chars`` characters as text (see :func:`text_length`).

    Raises :class:`InvalidClaimValueError` for a value that is not JSON,
    :class:`NestedTooDeepError` for one nested too deep, and :class:`MetadataTooLargeError`.
    """
    if value is None:
        return None
    if type(value) is str:  # the common case (LiveKit's metadata is a string): no serialising
        if not (value.isascii() or _is_utf8(value)):
            raise InvalidClaimValueError(
                "metadata must be valid Unicode text (no lone surrogates)", field="metadata"
            )
        size = len(value)
    else:
        check_nesting(value, "metadata")  # first: serialising a deep value could exhaust the stack
        try:
            json.dumps(value, allow_nan=False)  # orjson would write NaN as null: refuse it instead
            size = text_length(value)
        except (TypeError, ValueError) as exc:
            raise InvalidClaimValueError(
                "metadata must be JSON (finite numbers only)", field="metadata"
            ) from exc
    if size > max_chars:
        raise MetadataTooLargeError(
            f"metadata is {size} characters; the limit is {max_chars}",
            field="metadata",
            size=size,
            limit=max_chars,
        )
    return value


def _is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (JSON cannot carry a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_length(value: Any) -> int:
    """How many characters ``value`` is as text: a string's own, else its compact JSON form's.

    The one measure of the metadata limit (:data:`MAX_METADATA_CHARS`).
    """
    if type(value) is str:
        return len(value)
    raw = json_dumps(value)
    return len(raw) if raw.isascii() else len(raw.decode("utf-8"))


def check_attributes(value: Mapping[str, Any] | None) -> dict[str, str]:
    """A string→string map; anything else is refused rather than coerced."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidClaimValueError("attributes must be a map of strings", field="attributes")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidClaimValueError(
                f"attribute {key!r} must map a string to a string", field="attributes"
            )
    total = text_length(dict(value))
    if total > MAX_METADATA_CHARS:
        raise MetadataTooLargeError(
            f"attributes are {total} characters as JSON; the limit is {MAX_METADATA_CHARS}",
            field="attributes",
            size=total,
            limit=MAX_METADATA_CHARS,
        )
    return dict(value)


__all__ = [
    "MAX_CLAIM_DEPTH",
    "MAX_METADATA_CHARS",
    "Claims",
    "check_attributes",
    "check_metadata",
    "check_nesting",
    "check_text",
    "new_jti",
    "text_length",
]
