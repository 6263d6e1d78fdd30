"""One-time sign-in links that work on whichever node the browser reaches, exactly once.

A link's code is sealed (AES-256-GCM under a key derived from the master key, which every node
of a cluster shares): it carries the token that asked for it, when the session it opens must
end, when the link stops working, and a random link id. No node has to remember it, so a link
printed through node A opens a session on node B.

Spending it is what must happen once across all nodes, so it is a row in the shared database,
not a set in one node's memory: a ``jti`` revocation whose id is derived from the link id. The
second insert of that id is refused by the primary key (:class:`~roomkey.store.ConflictError`),
on any node, even when two nodes race. The rule names a ``jti`` no token carries, so it
revokes nothing; it shows in the revocation list as a spent link and is purged once the link
could no longer work anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roomkey.errors import AuthenticationError
from roomkey.store import ConflictError, RevocationRecord, Store

LINK_TTL_S = 300
MAX_CODE_CHARS = 4096
SPENT_REASON = "dashboard sign-in link used (one-time)"
_VERSION = b"\x02"
_NONCE_BYTES = 12
_AAD = b"dashboard-sign-in-link"
# a spent link's row outlives the link by this much (clocks of nodes differ a little)
_SPENT_MARGIN_S = 120


@dataclass(frozen=True, slots=True)
class PendingLink:
    """What a link's code holds once opened."""

    # the Authorization header of the token that asked for the link (checked again on use)
    header: str
    session_expires_at: int
    expires_at: int
    link_id: str


def _invalid() -> AuthenticationError:
    return AuthenticationError(
        "this sign-in link is unknown, was used already, or expired; run 'roomkey dashboard' again",
        reason="link_invalid",
    )


class SignInLinks:
    """Seal, open and spend one-time sign-in links (see the module docstring)."""

    def __init__(self, store: Store, key: bytes, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self._aead = AESGCM(key)

    def seal(self, header: str, session_expires_at: int) -> tuple[str, int]:
        """A new link's code and when it stops working."""
        expires = int(self.clock()) + LINK_TTL_S
        body = {"h": header, "s": session_expires_at, "e": expires, "n": secrets.token_urlsafe(16)}
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = _VERSION + nonce + self._aead.encrypt(nonce, orjson.dumps(body), _AAD)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii"), expires

    def open(self, code: str) -> PendingLink:
        """The link a code carries, while it works; raises AuthenticationError otherwise
        (not a code of this cluster, altered, or expired)."""
        code = code.strip()
        try:
            if len(code) > MAX_CODE_CHARS:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
            if raw[:1] != _VERSION:
                raise ValueError("not a sign-in link")
            nonce, body = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
            data = orjson.loads(self._aead.decrypt(nonce, body, _AAD))
            link = PendingLink(str(data["h"]), int(data["s"]), int(data["e"]), str(data["n"]))
        except (ValueError, binascii.Error, InvalidTag, KeyError, TypeError):
            raise _invalid() from None
        if link.expires_at <= self.clock():
            raise _invalid()
        return link

    async def spend(self, project_id: str, link: PendingLink) -> None:
        """Mark the link used, once for the whole cluster; raises AuthenticationError when it
        was used already (on this node or another)."""
        digest = hashlib.sha256(link.link_id.encode("ascii")).hexdigest()[:32]
        now = int(self.clock())
        record = RevocationRecord(
            id=f"rev_dashlink_{digest}",
            project_id=project_id,
            kind="jti",
            created_at=now,
            expires_at=link.expires_at + _SPENT_MARGIN_S,
            jti=f"dashboard-link-{digest}",
            reason=SPENT_REASON,
        )
        try:
            await self.store.add_revocation(record)
        except ConflictError:
            raise _invalid() from None
