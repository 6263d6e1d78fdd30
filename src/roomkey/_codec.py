"""Strict base64url and strict JSON: the two decoders every token byte passes through.

Both are on the verify hot path, so each keeps a fast path for the common, well-formed case and
falls back to a slower exact check only when needed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import orjson

from roomkey.errors import MalformedTokenError

# Levels of objects and arrays in a token's header or payload (the object itself is level 1).
# The one nesting limit: minting and request bodies hold what they accept to it.
MAX_JSON_DEPTH = 16

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Value of each base64url character, to check that unused trailing bits are zero.
_B64URL = re.compile(rb"[A-Za-z0-9_-]*")
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_FAST = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = {0: b"", 2: b"==", 3: b"="}
# Every byte but '{' and '[': deleting them leaves the openers, a bound on the nesting depth.
_NOT_OPENING = bytes(c for c in range(256) if c not in b"{[")


def b64url_encode(data: bytes) -> bytes:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(part: bytes, what: str) -> bytes:
    """Decode unpadded, canonical base64url, or raise :class:`MalformedTokenError`.

    Canonical means re-encoding gives the same text: no padding, no characters outside the
    alphabet, no impossible length, and zero bits in the unused tail of the last character.
    """
    size = len(part)
    rem = size % 4
    if rem != 1:
        try:
            # '+', '/' and '=' become '!', which the decoder refuses: one pass checks the
            # alphabet and translates, where three scans did before.
            raw = binascii.a2b_base64(part.translate(_FAST) + _PADDING[rem])
        except binascii.Error:
            pass
        else:
            # Not strict mode (which costs a fifth more): the lenient decoder skips a character
            # outside the alphabet instead, and the only '=' are the padding just added, so the
            # result is full-length exactly when every character was in the alphabet (each
            # carries 6 bits, and for a length that is not 1 modulo 4, one fewer always gives a
            # byte less).
            if len(raw) == (size * 3) >> 2 and (
                not rem or not _VALUE[part[-1]] & (0x0F if rem == 2 else 0x03)
            ):
                return raw
    # Anything unusual: the exact checks, in their order, name the problem.
    return _b64url_decode_exact(part, what)


def _b64url_decode_exact(part: bytes, what: str) -> bytes:
    """:func:`b64url_decode` one check at a time (the reference the fast path must match)."""
    if b"+" in part or b"/" in part or b"=" in part:
        raise MalformedTokenError(f"{what} is not base64url (no padding, no '+' or '/')")
    rem = len(part) % 4
    if rem == 1:
        if _B64URL.fullmatch(part) is None:  # name the worse problem first
            raise MalformedTokenError(f"{what} is not base64url (no padding, no '+' or '/')")
        raise MalformedTokenError(f"{what} has an impossible base64url length")
    try:
        # strict mode refuses every other character outside the alphabet (whitespace included)
        raw = binascii.a2b_base64(part.translate(_TO_STANDARD) + _PADDING[rem], strict_mode=True)
    except binascii.Error:
        raise MalformedTokenError(f"{what} is not base64url (no padding, no '+' or '/')") from None
    if rem and _VALUE[part[-1]] & (0x0F if rem == 2 else 0x03):
        raise MalformedTokenError(f"{what} is not canonical base64url")
    return raw


# Compact JSON, as every roomkey token is written: orjson's own function, without a wrapper
# frame (it is called for every token minted and every grant verified).
json_dumps = orjson.dumps


def json_loads_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse strict JSON that must be an object.

    Strict: valid UTF-8, RFC 8259 only (no NaN/Infinity), no duplicate member names at any
    depth, nesting at most ``MAX_JSON_DEPTH``. The fast path accepts text that is exactly what
    orjson would write for the parsed value (so it cannot hold duplicates); anything else is
    re-read by the exact checker.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedTokenError(f"{what} is not valid UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise MalformedTokenError(f"{what} must be a JSON object")
    # brackets_in(), inline (one frame less per token): a cheap bound before the exact walk
    if len(raw.translate(None, _NOT_OPENING)) > MAX_JSON_DEPTH and nested_deeper_than(
        value, MAX_JSON_DEPTH
    ):
        raise MalformedTokenError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    if orjson.dumps(value) != raw:
        _check_no_duplicates(raw, what)
    return value


def brackets_in(raw: bytes) -> int:
    """How many objects and arrays ``raw`` may open: a cheap bound on its nesting."""
    return len(raw.translate(None, _NOT_OPENING))  # one pass counts both


# What serialises to a JSON object or array (a caller's metadata may hold tuples).
_CONTAINERS = (dict, list, tuple)


def nested_deeper_than(value: Any, levels: int) -> bool:
    """True when ``value`` nests objects and arrays more than ``levels`` deep (a scalar is 0).

    Iterative, so no input can exhaust the interpreter's stack; stops at the first level too many.
    """
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, _CONTAINERS) else []
    while stack:
        item, depth = stack.pop()
        if depth > levels:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, _CONTAINERS))
    return False


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


class _Duplicate(Exception):
    pass


# The integers orjson reads exactly; beyond them it gives a float, silently changing the value.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _exact_int(text: str) -> int:
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _OutOfRange
    return value


class _OutOfRange(Exception):
    pass


def _check_no_duplicates(raw: bytes, what: str) -> None:
    """The exact checker: duplicate member names, and integers that would not read back as
    written (both are refused rather than read some way the signer did not mean)."""
    try:
        json.loads(raw, object_pairs_hook=_reject_duplicates, parse_int=_exact_int)
    except _Duplicate:
        raise MalformedTokenError(f"{what} has a duplicate member name") from None
    except _OutOfRange:
        raise MalformedTokenError(
            f"{what} holds an integer outside the 64-bit range, which cannot be read exactly"
        ) from None
    except ValueError as exc:  # pragma: no cover - orjson accepted it, json should too
        raise MalformedTokenError(f"{what} is not valid JSON") from exc
