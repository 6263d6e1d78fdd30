"""Session credentials: short-lived, signed by the server, never the participant token.

``rks1.<payload>.<mac>``: base64url of compact JSON ``{"sid", "prj", "room", "exp"}`` and an
HMAC-SHA256 over ``rks1.<payload>`` with a key derived from the master key, so a credential
survives a restart (until it expires) and is accepted by every node.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from roomkey.errors import InvalidSessionError

PREFIX = "rks1"
MAX_CREDENTIAL_BYTES = 512


@dataclass(frozen=True, slots=True)
class SessionClaim:
    """What a valid session credential says."""

    session_id: str
    project_id: str
    room: str
    expires_at: int


class SessionCredentials:
    """Mints and checks session credentials with one key."""

    def __init__(self, key: bytes, ttl_s: int = 3600) -> None:
        if len(key) < 32:
            raise ValueError("a session credential key has at least 32 bytes")
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self.ttl_s = ttl_s

    def mint(self, session_id: str, project_id: str, room: str, now: float) -> str:
        """A credential for the session, valid for ``ttl_s`` from ``now``."""
        body = {"sid": session_id, "prj": project_id, "room": room, "exp": int(now) + self.ttl_s}
        payload = _b64(orjson.dumps(body))
        signing_input = f"{PREFIX}.{payload}"
        return f"{signing_input}.{_b64(self._sign(signing_input))}"

    def check(self, credential: str, now: float) -> SessionClaim:
        """The claim of a valid, unexpired credential; raises :class:`InvalidSessionError`."""
        if not isinstance(credential, str) or len(credential) > MAX_CREDENTIAL_BYTES:
            raise InvalidSessionError("the session credential is malformed")
        parts = credential.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise InvalidSessionError("the session credential is malformed")
        try:
            mac = _unb64(parts[2])
            body = orjson.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error, orjson.JSONDecodeError):
            raise InvalidSessionError("the session credential is malformed") from None
        if not hmac.compare_digest(mac, self._sign(f"{PREFIX}.{parts[1]}")):
            raise InvalidSessionError("the session credential does not verify")
        claim = _claim(body)
        if claim.expires_at <= now:
            raise InvalidSessionError("the session credential has expired; refresh or rejoin")
        return claim

    def _sign(self, signing_input: str) -> bytes:
        mac = self._mac.copy()
        mac.update(signing_input.encode("ascii"))
        return mac.digest()


def _claim(body: object) -> SessionClaim:
    if not isinstance(body, dict):
        raise InvalidSessionError("the session credential is malformed")
    sid, prj, room, exp = (body.get(k) for k in ("sid", "prj", "room", "exp"))
    texts = all(isinstance(v, str) and v for v in (sid, prj, room))
    if not texts or type(exp) is not int:
        raise InvalidSessionError("the session credential is malformed")
    return SessionClaim(str(sid), str(prj), str(room), exp)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or "=" in text:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise ValueError("not canonical base64url")
    return raw
