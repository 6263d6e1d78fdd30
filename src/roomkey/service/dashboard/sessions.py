"""Dashboard sessions: signing in with a server token or a one-time link, the session cookie,
CSRF tokens, signing out.

A session is a server token the server mints for it through the ordinary issuing path
(:meth:`TokenService.issue`): the signed-in token's own capabilities (the issuing path refuses
more), its identity and key, a lifetime no longer than the token it came from (nor than
:data:`SESSION_MAX_TTL_S` or the project's maximum), and an audit row like every token. The
browser holds it sealed (AES-256-GCM under a key derived from the master key) in an
``HttpOnly`` cookie, so every node can open it; every request runs it through the very
capability check of the API. Signing out revokes its ``jti``: a copied cookie is refused from
then on, on every node.

The session also remembers the token it was opened with (its ``jti``, identity, room, key and
issue time, never the token itself): every request checks those against the revocations too,
so revoking that token, by any rule, ends the sessions made from it. One-time links are
:mod:`roomkey.service.dashboard.links`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roomkey.capabilities import Capability
from roomkey.claims import Claims
from roomkey.errors import AuthenticationError, ForbiddenError
from roomkey.grants import Grant, Scope
from roomkey.revocation import RevocationChecker
from roomkey.service.auth import Caller, token_from_header
from roomkey.service.dashboard.links import SignInLinks
from roomkey.service.revocations import RevocationService
from roomkey.service.tokens import TokenRequest, TokenService

SESSION_MAX_TTL_S = 8 * 3600
SESSION_MIN_TTL_S = 60
MAX_COOKIE_CHARS = 3800
_COOKIE_VERSION = b"\x02"
_NONCE_BYTES = 12
_NO_GRANT = Grant()


@dataclass(frozen=True, slots=True)
class Origin:
    """The token a session was opened with: what revocation rules match on, not the token."""

    jti: str | None
    identity: str | None
    room: str | None
    kid: str
    issued_at: int | None

    def claims(self) -> Claims:
        """Claims enough for the revocation check (the grant plays no part in it)."""
        return Claims(
            self.kid, self.identity, self.room, _NO_GRANT, self.issued_at, None, None, self.jti
        )

    def to_list(self) -> list[str | int | None]:
        """The cookie's compact form."""
        return [self.jti, self.identity, self.room, self.kid, self.issued_at]

    @classmethod
    def from_list(cls, data: object) -> Origin:
        """The inverse of :meth:`to_list`; raises ValueError for anything else."""
        if not isinstance(data, list) or len(data) != 5:
            raise ValueError("not a session's origin")
        jti, identity, room, kid, issued = data
        if not isinstance(kid, str) or not isinstance(issued, int | None):
            raise ValueError("not a session's origin")
        return cls(_text(jti), _text(identity), _text(room), kid, issued)

    @classmethod
    def of(cls, claims: Claims, kid: str) -> Origin:
        """The origin of a verified token."""
        return cls(claims.jti, claims.identity, claims.room, kid, claims.issued_at)


def _text(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("not a session's origin")
    return value


@dataclass(frozen=True, slots=True)
class DashboardSession:
    """An open dashboard session (what the cookie holds, once opened and checked)."""

    token: str
    jti: str
    project_id: str
    identity: str
    expires_at: int
    # the token the session was opened with (revoking it ends the session)
    origin: Origin

    @property
    def header(self) -> str:
        """The session as an ``Authorization`` header value (what every check is given)."""
        return f"Bearer {self.token}"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A session just opened, and the cookie value that carries it."""

    session: DashboardSession
    cookie: str


@dataclass(frozen=True, slots=True)
class SignInLink:
    """A one-time sign-in code and when it stops working."""

    code: str
    expires_at: int


class DashboardSessions:
    """Opens, checks and ends dashboard sessions (see the module docstring)."""

    def __init__(
        self,
        tokens: TokenService,
        revocations: RevocationService,
        authenticate: Callable[[str | None], Caller],
        derive_key: Callable[[str], bytes],
        check_revoked: RevocationChecker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.revocations = revocations
        self.authenticate = authenticate
        self.check_revoked = check_revoked
        self.clock = clock
        self._aead = AESGCM(derive_key("dashboard-session-cookie"))
        self._csrf_key = derive_key("dashboard-csrf")
        self.links = SignInLinks(
            tokens.ctx.store, derive_key("dashboard-sign-in-link"), lambda: self.clock()
        )

    # ---- signing in ----------------------------------------------------------------------

    async def sign_in(self, token: str) -> SignedIn:
        """A session for a pasted server token.

        Raises AuthenticationError (not a valid token), ForbiddenError (a participant token, or
        a signing-key token), and whatever issuing refuses.
        """
        header = f"Bearer {token_from_header(token)}"
        caller = self.authenticate(header)
        expires, origin = self._origin_of(header)
        return await self._open(caller, expires, origin, "dashboard:sign-in")

    async def create_link(self, header: str | None, ttl_s: int | None = None) -> SignInLink:
        """A one-time code that signs in with the caller's capabilities (``roomkey dashboard``).

        The session it opens lasts ``ttl_s`` at most (default and cap: the caller token's own
        remaining life, :data:`SESSION_MAX_TTL_S`). Raises AuthenticationError or
        ForbiddenError for a caller that could not sign in itself. The token is checked again
        when the link is used: revoked or expired by then, the link opens nothing. The link
        works on every node that shares this one's master key and database.
        """
        caller = self.authenticate(header)
        _refuse_participant(caller)
        now = int(self.clock())
        session_end, _ = self._origin_of(header)
        if ttl_s is not None:
            session_end = min(session_end, now + max(ttl_s, SESSION_MIN_TTL_S))
        code, expires = self.links.seal(str(header), session_end)
        return SignInLink(code, expires)

    async def redeem_link(self, code: str) -> SignedIn:
        """The session of a one-time link; the link stops working at once, on every node.

        Raises AuthenticationError for an unknown, used or expired link, or when the token
        that asked for it is no longer valid.
        """
        link = self.links.open(code)
        caller = self.authenticate(link.header)
        _, origin = self._origin_of(link.header)
        await self.links.spend(caller.project_id, link)
        return await self._open(caller, link.session_expires_at, origin, "dashboard:link")

    def _origin_of(self, header: str | None) -> tuple[int, Origin]:
        """When a session opened with this (already authenticated) token must end, and the
        token's origin."""
        verified = self.tokens.verifier.verify_signature(token_from_header(header))
        exp = verified.claims.expires_at or 0
        ends = min(int(exp), int(self.clock()) + SESSION_MAX_TTL_S)
        return ends, Origin.of(verified.claims, verified.kid)

    async def _open(self, caller: Caller, ends_at: int, origin: Origin, endpoint: str) -> SignedIn:
        _refuse_participant(caller)
        max_ttl_s = self.tokens.ctx.project(caller.project_id).record.settings.max_ttl_s
        ttl = min(ends_at - int(self.clock()), max_ttl_s)
        if ttl < SESSION_MIN_TTL_S:
            raise AuthenticationError(
                "this token expires within a minute: sign in with a fresher one",
                reason="expires_soon",
            )
        minted = await self.tokens.issue(caller, _session_request(caller, ttl), endpoint)
        session = DashboardSession(
            minted.token,
            minted.claims.jti or "",
            caller.project_id,
            caller.identity or "dashboard",
            minted.claims.expires_at or 0,
            origin,
        )
        return SignedIn(session, self.seal(session))

    # ---- the cookie ----------------------------------------------------------------------

    def seal(self, session: DashboardSession) -> str:
        """The cookie value carrying ``session`` (encrypted and authenticated)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        body = orjson.dumps(
            {
                "t": session.token,
                "j": session.jti,
                "p": session.project_id,
                "i": session.identity,
                "e": session.expires_at,
                "o": session.origin.to_list(),
            }
        )
        sealed = _COOKIE_VERSION + nonce + self._aead.encrypt(nonce, body, b"dashboard-session")
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, cookie: str | None) -> DashboardSession:
        """The session a cookie carries, while it has not expired.

        Only the cookie is checked here; the capability checks of each request verify the
        session's token in full (revocation included). Raises AuthenticationError.
        """
        if not cookie:
            raise AuthenticationError("sign in to use the dashboard", reason="no_session")
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            if len(cookie) > MAX_COOKIE_CHARS or raw[:1] != _COOKIE_VERSION:
                raise ValueError("not a session cookie")
            nonce, body = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
            data = orjson.loads(self._aead.decrypt(nonce, body, b"dashboard-session"))
            session = DashboardSession(
                str(data["t"]),
                str(data["j"]),
                str(data["p"]),
                str(data["i"]),
                int(data["e"]),
                Origin.from_list(data["o"]),
            )
        except (ValueError, binascii.Error, InvalidTag, KeyError, TypeError):
            raise AuthenticationError(
                "the dashboard session is not valid here; sign in again", reason="bad_session"
            ) from None
        if session.expires_at <= self.clock():
            raise AuthenticationError(
                "the dashboard session has expired; sign in again", reason="session_expired"
            )
        return session

    # ---- CSRF and signing out ------------------------------------------------------------

    def csrf_token(self, binding: str) -> str:
        """The CSRF token of a session (its ``jti``) or of a sign-in form (its nonce)."""
        mac = hmac.new(self._csrf_key, binding.encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()

    def check_csrf(self, binding: str, token: str | None) -> None:
        """Raise ForbiddenError (``reason`` csrf) unless ``token`` is the one of ``binding``."""
        expected = self.csrf_token(binding)
        if not token or not hmac.compare_digest(expected, token):
            raise ForbiddenError(
                "the form's CSRF token is missing or wrong: reload the page and try again",
                reason="csrf",
            )

    async def sign_out(self, session: DashboardSession) -> None:
        """End the session on every node: its token is revoked by ``jti``."""
        await self.revocations.revoke(
            session.project_id, jti=session.jti, reason="dashboard sign-out"
        )

    def caller_of(self, session: DashboardSession) -> Caller:
        """The session's caller, every check of its token run again, and the token it was
        opened with checked against the revocations.

        Raises like :func:`~roomkey.service.auth.authenticate` (AuthenticationError once the
        session's token is revoked or expired), and AuthenticationError (reason ``revoked``)
        once the token the session came from is revoked.
        """
        caller = self.authenticate(session.header)
        origin = session.origin
        rule = self.check_revoked(origin.claims(), origin.kid)
        if rule is not None:
            raise AuthenticationError(
                f"the token this session was opened with is revoked ({rule.describe()})",
                reason="revoked",
            )
        return caller


def _refuse_participant(caller: Caller) -> None:
    if caller.participant:
        raise ForbiddenError(
            "sign in with a server (api-scope) token, not a participant token",
            reason="wrong_scope",
        )


def _session_request(caller: Caller, ttl_s: int) -> TokenRequest:
    capabilities = sorted(c.value for c in caller.capabilities)
    if Capability.ADMIN in caller.capabilities:
        capabilities = [Capability.ADMIN.value]
    return TokenRequest(
        identity=caller.identity or "dashboard",
        room=caller.room,
        dialect="native",
        permissions={"scope": [Scope.API.value], "capabilities": capabilities},
        ttl_s=ttl_s,
    )
