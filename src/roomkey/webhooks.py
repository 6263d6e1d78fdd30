"""Signing and verifying webhooks in the Standard Webhooks format, for roomkey's receivers.

A delivery carries three headers: ``webhook-id`` (the event's id, the same on every retry, so a
receiver can drop duplicates), ``webhook-timestamp`` (integer seconds) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several of them
separated by spaces while a rotated secret still signs alongside the new one. Secrets are
``whsec_`` and the base64 of the key bytes. Verify with::

    from roomkey.webhooks import verify
    event = verify(body, request.headers, "whsec_...")   # raises WebhookVerificationError

The format is the one the ``standardwebhooks`` library verifies; :func:`verify` is the same
check with roomkey's errors, constant-time comparison and an injectable clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from roomkey.errors import (
    ConfigurationError,
    WebhookHeaderError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
DEFAULT_TOLERANCE_S = 300
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MAX_ID_CHARS = 256


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_...`` secret.

    Raises:
        ConfigurationError: not ``whsec_`` and base64, or shorter than 24 bytes.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ConfigurationError("a webhook secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("a webhook secret is 'whsec_' and base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"a webhook secret holds at least {MIN_SECRET_BYTES} bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as ``msg_id`` at ``timestamp``."""
    mac = hmac.new(secret_key(secret), _signed(msg_id, timestamp, body), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def sign_headers(
    signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in ``signing_secrets`` (the
    current one first, then a rotated one still in its overlap)."""
    signatures = " ".join(sign(s, msg_id, timestamp, body) for s in signing_secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> Any:
    """The JSON body of a webhook, once its headers prove roomkey sent it, recently.

    ``secret`` is the endpoint's ``whsec_`` secret, or several (a receiver rotating its own
    configuration); ``now`` defaults to the system clock; deliveries signed more than
    ``tolerance_s`` away from it (default 5 minutes) are refused as replays.

    Raises:
        WebhookHeaderError: a header is missing or malformed (``details.header``).
        WebhookTimestampError: the timestamp is outside the window (``details.age_s``).
        WebhookSignatureError: no signature matches the body with any secret.
        WebhookVerificationError: the body is not JSON (``code`` ``webhook_invalid``).
        ConfigurationError: a secret is not a ``whsec_`` secret.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    found = {k.lower(): v for k, v in headers.items() if k.lower() in HEADERS}
    msg_id, timestamp = _id(found), _timestamp(found)
    _check_window(timestamp, time.time() if now is None else now, tolerance_s)
    keys = [secret_key(s) for s in ([secret] if isinstance(secret, str) else secret)]
    if not keys:
        raise ConfigurationError("give at least one webhook secret to verify with")
    if not _any_matches(keys, _signatures(found), _signed(msg_id, timestamp, raw)):
        raise WebhookSignatureError("no webhook signature matches the body with this secret")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise WebhookVerificationError("the webhook body is not JSON") from None


def _signed(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _id(found: Mapping[str, str]) -> str:
    msg_id = found.get("webhook-id", "")
    if not msg_id or len(msg_id) > _MAX_ID_CHARS or "." in msg_id:
        raise WebhookHeaderError("webhook-id is missing or malformed", header="webhook-id")
    return msg_id


def _timestamp(found: Mapping[str, str]) -> int:
    value = found.get("webhook-timestamp", "")
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise WebhookHeaderError(
            "webhook-timestamp must be integer seconds", header="webhook-timestamp"
        )
    return int(value)


def _check_window(timestamp: int, now: float, tolerance_s: int) -> None:
    age = now - timestamp
    if abs(age) > tolerance_s:
        when = "old" if age > 0 else "in the future"
        raise WebhookTimestampError(
            f"webhook-timestamp is {abs(int(age))} s {when}, beyond the {tolerance_s} s window "
            "(a replay, or a clock that is off)",
            age_s=int(age),
            tolerance_s=tolerance_s,
        )


def _signatures(found: Mapping[str, str]) -> list[bytes]:
    header = found.get("webhook-signature", "")
    if not header:
        raise WebhookHeaderError("webhook-signature is missing", header="webhook-signature")
    signatures = []
    for entry in header.split(" "):
        version, _, value = entry.partition(",")
        if version != "v1":
            continue  # other schemes (v1a, ...) are not ours to check
        try:
            signatures.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return signatures


def _any_matches(keys: Sequence[bytes], signatures: Sequence[bytes], signed: bytes) -> bool:
    matched = False
    for key in keys:
        expected = hmac.new(key, signed, hashlib.sha256).digest()
        for candidate in signatures:
            # no early exit: the time taken does not tell which secret or signature matched
            matched |= hmac.compare_digest(expected, candidate)
    return matched


__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SECRET_PREFIX",
    "new_secret",
    "secret_key",
    "sign",
    "sign_headers",
    "verify",
]
