"""Helpers for the attack suite: forging tokens byte by byte, and one way to assert a refusal."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from roomkey.errors import TokenError
from roomkey.keys import Key
from roomkey.verifying import TokenVerifier

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
OTHER_SECRET = "another-secret-that-is-at-least-32-bytes!!"
API_KEY = "APIkey1"
OTHER_API_KEY = "APIkey2"
NOW = 1_795_000_000


def b64(data: bytes) -> str:
    """Unpadded base64url, as a str."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(part: str) -> bytes:
    """Decode an unpadded base64url part."""
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def to_json(value: Any) -> bytes:
    """Compact JSON, the way roomkey writes it (and so the codec's fast path)."""
    return json.dumps(value, separators=(",", ":")).encode()


def forge(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes | Any,
    *,
    key: Key | None = None,
    signature: bytes | None = None,
) -> str:
    """A compact token from a header and payload (objects or raw JSON bytes).

    Signed with ``key`` (any algorithm, whatever the header says), or carrying ``signature``
    as given; at least one is needed.
    """
    head = b64(header if isinstance(header, bytes) else to_json(header))
    body = b64(payload if isinstance(payload, bytes) else to_json(payload))
    signing_input = f"{head}.{body}".encode()
    if signature is None:
        assert key is not None, "give a key or a signature"
        signature = key.sign(signing_input)
    return f"{head}.{body}.{b64(signature)}"


def native_payload(**changes: Any) -> dict[str, Any]:
    """A valid native room token payload for ``alice`` in ``standup``; ``changes`` override.

    A value of ``...`` removes the claim.
    """
    payload: dict[str, Any] = {
        "rk": 1,
        "iss": API_KEY,
        "sub": "alice",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "jti-attack-0001",
        "room": "standup",
        "role": "guest",
        "grant": {
            "admin": False,
            "can_consume": True,
            "can_produce": True,
            "sources": ["cam", "mic", "screen", "screen_audio"],
            "can_send_data": True,
            "can_recv_data": True,
            "can_update_metadata": True,
            "join": "direct",
            "moderate": False,
            "hidden": False,
            "recorder": False,
            "scope": ["room"],
        },
    }
    return _apply(payload, changes)


def livekit_payload(**changes: Any) -> dict[str, Any]:
    """A valid LiveKit room token payload (no kid; key chosen by ``iss``)."""
    payload: dict[str, Any] = {
        "iss": API_KEY,
        "sub": "alice",
        "nbf": NOW,
        "exp": NOW + 900,
        "video": {"roomJoin": True, "room": "standup"},
    }
    return _apply(payload, changes)


def _apply(payload: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is ...:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def hs_header(kid: str | None = API_KEY, **extra: Any) -> dict[str, Any]:
    """``{"alg": "HS256", "typ": "JWT", "kid": kid}`` plus ``extra``."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    header.update(extra)
    return header


def assert_rejected(
    verifier: TokenVerifier, token: Any, code: str, *, now: float = NOW, **bindings: Any
) -> TokenError:
    """Verify ``token`` and assert it fails with ``code``, leaking neither secret nor token."""
    with pytest.raises(TokenError) as info:
        verifier.verify(token, now=now, **bindings)
    error = info.value
    assert error.code == code, f"expected {code}, got {error.code}: {error.message}"
    assert_no_leak(error, token)
    return error


def assert_no_leak(error: TokenError, token: Any) -> None:
    """No secret, no whole token and no whole signature part in the message or details."""
    text = str(error) + json.dumps(error.to_dict())  # details are JSON-safe, too
    for secret in (SECRET, OTHER_SECRET):
        assert secret not in text
    if isinstance(token, bytes):
        token = token.decode("latin-1")
    if isinstance(token, str) and len(token) > 16:
        assert token not in text
        for part in token.split("."):
            if len(part) > 24:
                assert part not in text
