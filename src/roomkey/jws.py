"""A strict compact-JWS codec (RFC 7515 compact serialisation, JWT profile).

``encode`` writes ``header.payload.signature`` with the key's own algorithm. ``parse`` runs
steps 1–3 and 6 of the verifier pipeline (size, compact form, header, payload syntax) and returns
the pieces; it never checks a signature or a claim — :mod:`roomkey.verifying` does that with a
key chosen from a fixed table.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from roomkey._codec import b64url_decode, b64url_encode, json_dumps, json_loads_object
from roomkey.errors import (
    DisallowedAlgorithmError,
    ForbiddenHeaderError,
    MalformedTokenError,
    TokenTooLargeError,
)
from roomkey.keys import SUPPORTED_ALGORITHMS, Key

DEFAULT_MAX_BYTES = 8 * 1024

# Header parameters that would let the token choose its own key, compression or processing.
FORBIDDEN_HEADERS = frozenset({"crit", "jku", "x5u", "jwk", "x5c", "zip", "b64", "cty"})

_HEADER_CACHE: dict[bytes, dict[str, Any]] = {}
_HEADER_CACHE_MAX = 1024


class ParsedToken(NamedTuple):
    """A syntactically valid token whose signature has not been checked yet."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The ``alg`` the token claims (to be compared with the key's, never trusted)."""
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        """The ``kid`` header, if any."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def encode(payload: dict[str, Any], key: Key, *, kid: bool = True) -> str:
    """Sign ``payload`` with ``key``; the header is ``{"alg", "typ", "kid"}``."""
    signing_input = _header_b64_dot(key, kid) + b64url_encode(json_dumps(payload))
    return b".".join((signing_input, b64url_encode(key.sign(signing_input)))).decode("ascii")


_ENCODED_HEADERS: dict[tuple[str, str, bool], bytes] = {}


def _header_b64_dot(key: Key, with_kid: bool) -> bytes:
    """The encoded header and the dot after it (the same for every token of one key)."""
    cache_key = (key.alg, key.kid, with_kid)
    encoded = _ENCODED_HEADERS.get(cache_key)
    if encoded is None:
        header: dict[str, str] = {"alg": key.alg.value, "typ": "JWT"}
        if with_kid:
            header["kid"] = key.kid
        encoded = b64url_encode(json_dumps(header)) + b"."
        if len(_ENCODED_HEADERS) >= _HEADER_CACHE_MAX:
            _ENCODED_HEADERS.clear()
        _ENCODED_HEADERS[cache_key] = encoded
    return encoded


def parse(token: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedToken:
    """Split and decode a compact JWS, strictly.

    Raises :class:`TokenTooLargeError`, :class:`MalformedTokenError`,
    :class:`ForbiddenHeaderError` or :class:`DisallowedAlgorithmError`.
    """
    if not isinstance(token, (str, bytes)):  # a tuple: faster than `str | bytes` here
        raise MalformedTokenError("a token is a string")
    if len(token) > max_bytes:
        raise TokenTooLargeError(
            f"the token is {len(token)} bytes; the limit is {max_bytes}", limit=max_bytes
        )
    raw = token.encode("ascii") if type(token) is str and token.isascii() else _to_bytes(token)
    # The signing input is the text before the last dot, taken as is (no re-joining). A third
    # dot can only be in the body (find: ``in`` on bytes costs more than twice as much).
    signing_input, _, sig = raw.rpartition(b".")
    head, second_dot, body = signing_input.partition(b".")
    if not second_dot or body.find(b".") != -1:
        raise MalformedTokenError(
            f"a token has exactly three dot-separated parts (found {raw.count(b'.') + 1})"
        )
    if not head or not body or not sig:
        raise MalformedTokenError("a token part is empty")
    header = parse_header(head)
    payload = json_loads_object(b64url_decode(body, "payload"), "payload")
    signature = b64url_decode(sig, "signature")
    # tuple.__new__: built without the Python frame of the named tuple's __new__ or _make
    return tuple.__new__(ParsedToken, (header, payload, signing_input, signature))


def _to_bytes(token: str | bytes) -> bytes:
    if isinstance(token, bytes):
        return token
    if not isinstance(token, str):
        raise MalformedTokenError("a token is a string")
    try:
        return token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedTokenError("a token contains only ASCII characters") from None


def parse_header(head: bytes) -> dict[str, Any]:
    """Decode and check the protected header (cached: most tokens share a few headers)."""
    cached = _HEADER_CACHE.get(head)
    if cached is not None:
        return cached
    header = json_loads_object(b64url_decode(head, "header"), "header")
    check_header(header)
    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
        _HEADER_CACHE.clear()
    _HEADER_CACHE[head] = header
    return header


def check_header(header: dict[str, Any]) -> None:
    """Refuse forbidden parameters, a missing or unsupported ``alg``, a bad ``kid`` or ``typ``."""
    forbidden = sorted(FORBIDDEN_HEADERS.intersection(header))
    if forbidden:
        raise ForbiddenHeaderError(
            f"header parameter {forbidden[0]!r} is not accepted", parameter=forbidden[0]
        )
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("the header has no 'alg' string")
    if alg not in SUPPORTED_ALGORITHMS:
        raise DisallowedAlgorithmError(f"algorithm {alg[:20]!r} is not accepted", alg=alg[:20])
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or not kid.isprintable()):
        raise MalformedTokenError("the header 'kid' must be a non-empty printable string")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise MalformedTokenError("the header 'typ' must be 'JWT' when present")


def decode_unverified(
    token: str | bytes, max_bytes: int = 64 * 1024
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload without any signature check (for inspection only, never for trust)."""
    parsed = parse(token, max_bytes)
    return parsed.header, parsed.payload


__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORBIDDEN_HEADERS",
    "ParsedToken",
    "check_header",
    "decode_unverified",
    "encode",
    "parse",
    "parse_header",
]
