"""Who is calling and what they may do: a token signed with one of a project's API keys.

A server (``api``-scope) token carries exactly the capabilities it names (``admin`` = all). A
participant token whose grant moderates a named room may also use that room's moderation API
(LiveKit's ``roomAdmin`` with its ``room``), and nothing else. :func:`authorize` is the one place
that turns an Authorization header into a :class:`Caller` holding the capability a route needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from roomkey.capabilities import (
    CRAWLER_CAPABILITIES,
    NO_CAPABILITIES,
    Capability,
    confers,
    expand,
)
from roomkey.errors import AuthenticationError, ForbiddenError, TokenError
from roomkey.grants import Scope
from roomkey.keys import Key
from roomkey.service.state import ServerState
from roomkey.store import KeyRecord, ProjectSettings
from roomkey.verifying import TokenVerifier, VerifiedToken

# The seeds' wording, kept so that clients written against VideoSDK recognise it.
INVALID_OR_EXPIRED = "Token is invalid or expired"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller of the management and token-issuing API."""

    project_id: str
    kid: str
    identity: str | None
    # every capability the caller holds (``admin`` already expanded to all)
    capabilities: frozenset[Capability] = NO_CAPABILITIES
    # the room a room-bound token names: room-targeted rights (moderation) act on it only
    room: str | None = None
    # a participant token (no server scope): it may at most moderate its own room
    participant: bool = False

    @property
    def label(self) -> str:
        """How the caller appears in the audit log."""
        return f"{self.kid}:{self.identity}" if self.identity else self.kid

    def may(self, needed: Capability, *, room: str | None = None) -> bool:
        """True when the caller holds ``needed`` (for ``room``, if the right is room-bound)."""
        if not confers(self.capabilities, needed):
            return False
        bound = needed is Capability.ROOMS_MODERATE and self.room is not None
        return not bound or room == self.room

    def require(self, needed: Capability, *, room: str | None = None) -> None:
        """Raise :class:`ForbiddenError` (``details.missing``) unless the caller may ``needed``."""
        if self.may(needed, room=room):
            return
        if confers(self.capabilities, needed):
            raise ForbiddenError(
                f"this token may use {needed.value} in room {self.room!r} only",
                missing=needed.value,
                room=room,
            )
        raise ForbiddenError(
            f"this token lacks the capability {needed.value}", missing=needed.value
        )


def token_from_header(value: str | None) -> str:
    """The token of ``Authorization: Bearer <jwt>`` or VideoSDK's raw ``Authorization: <jwt>``."""
    if not value or not value.strip():
        raise AuthenticationError(
            f"{INVALID_OR_EXPIRED}: send a server token in the Authorization header",
            reason="missing_token",
        )
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip()
    if rest:
        raise AuthenticationError(
            f"{INVALID_OR_EXPIRED}: unsupported authorization scheme", reason="malformed"
        )
    return value


_CallerMemo = tuple[VerifiedToken, "KeyRecord | None", "ProjectSettings | None", Caller]


@dataclass(frozen=True, slots=True)
class _Verified:
    """A caller token that passed every check at ``verified_at`` with ``key``."""

    verified: VerifiedToken
    key: Key
    verified_at: float
    expires_at: float
    scope: Scope


class VerifiedCallerCache:
    """The cryptographic half of verifying a caller's token, remembered per exact token string.

    A caller sends the same server token with every request; parsing it and checking its HMAC
    again each time gives the same answer, because the token's bytes and the key object are
    unchanged. What can change between two requests is re-checked on every hit, exactly as the
    verifier checks it: the key must still be the very object in the ring and usable now (a
    rotation, disable or reload replaces or removes it), the token's scope and revocation rules
    (a revocation is enforced from the next request on), and the time. A hit is only taken for
    ``verified_at <= now < exp``: inside that window the time checks that passed at
    ``verified_at`` (exp with leeway, nbf/iat not ahead, the lifetime bound) still pass; outside
    it (a clock moved back, or the leeway past exp) the token is verified in full again.
    Bounded: when full, it is cleared (a caller population larger than ``max_entries`` simply
    costs a full verify per request, as without the cache).
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, _Verified] = {}
        # token -> (verified, key record, project settings, Caller), see ``authenticate``
        self.callers: dict[str, _CallerMemo] = {}

    def remember_caller(self, token: str, memo: _CallerMemo) -> None:
        """Keep ``memo`` for ``token`` (bounded like the verified entries)."""
        if len(self.callers) >= self.max_entries:
            self.callers.clear()
        self.callers[token] = memo

    def verify(self, verifier: TokenVerifier, token: str) -> VerifiedToken:
        """Every check of ``verifier`` at the token's own scope (``api`` when it has it, else
        ``room``), skipping the parse and HMAC on a hit."""
        now = verifier.now()
        entry = self._entries.get(token)
        if (
            entry is not None
            and entry.verified_at <= now < entry.expires_at
            and verifier.keys.get(entry.verified.kid, now) is entry.key
        ):
            verifier.validate_application(entry.verified, scope=entry.scope)
            return entry.verified
        verified = verifier.verify_signature(token, now=now)
        scope = Scope.API if Scope.API in verified.grant.scope else Scope.ROOM
        verifier.validate(verified, scope=scope, now=now)
        key = verifier.keys.get(verified.kid, now)
        exp = verified.claims.expires_at
        if key is not None and exp is not None:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token] = _Verified(verified, key, now, float(exp), scope)
        return verified


_CACHES: WeakKeyDictionary[TokenVerifier, VerifiedCallerCache] = WeakKeyDictionary()


def _cache_of(verifier: TokenVerifier) -> VerifiedCallerCache:
    cache = _CACHES.get(verifier)
    if cache is None:
        cache = _CACHES[verifier] = VerifiedCallerCache()
    return cache


def authorize(
    verifier: TokenVerifier,
    header: str | None,
    state: ServerState,
    needed: Capability,
    *,
    room: str | None = None,
) -> Caller:
    """The caller behind ``header``, holding ``needed`` (for ``room`` when it is room-bound).

    Raises :class:`AuthenticationError` (401) for a missing or invalid token and
    :class:`ForbiddenError` (403, ``details.missing``) for a valid token without the right.
    """
    moderating = needed is Capability.ROOMS_MODERATE
    caller = authenticate(verifier, header, state, participant_ok=moderating, needed=needed)
    caller.require(needed, room=room)
    return caller


def authenticate(
    verifier: TokenVerifier,
    header: str | None,
    state: ServerState,
    *,
    participant_ok: bool = False,
    needed: Capability | None = None,
) -> Caller:
    """Verify the caller's token (every check) and work out its capabilities.

    Raises :class:`AuthenticationError` for a missing or invalid token, and
    :class:`ForbiddenError` for a token signed with a key that may not call the API, or for a
    participant token unless ``participant_ok`` (moderating its own room).
    """
    token = token_from_header(header)
    cache = _cache_of(verifier)
    try:
        verified = cache.verify(verifier, token)
    except TokenError as exc:
        raise AuthenticationError(f"{INVALID_OR_EXPIRED}: {exc.message}", reason=exc.code) from exc
    record = state.keys.get(verified.kid)
    project = state.projects.get(record.project_id) if record is not None else None
    settings = project.record.settings if project is not None else None
    # The caller depends only on the verified token, its key's record and the project's
    # settings: remember it while all three are the very same objects.
    memo = cache.callers.get(token)
    if memo is not None and memo[0] is verified and memo[1] is record and memo[2] is settings:
        caller = memo[3]
    else:
        caller = _caller_of(verified, record, settings)
        cache.remember_caller(token, (verified, record, settings, caller))
    if caller.participant and not participant_ok:
        missing = {"missing": needed.value} if needed is not None else {}
        raise ForbiddenError(
            "a participant (room-scope) token cannot call this API; use a server token",
            reason="wrong_scope",
            **missing,
        )
    return caller


def _caller_of(
    verified: VerifiedToken, record: KeyRecord | None, settings: ProjectSettings | None
) -> Caller:
    if record is None or record.purpose != "api":
        raise ForbiddenError(
            "server tokens must be signed with an API key, not a signing key", reason="wrong_key"
        )
    roleless_api = settings is not None and settings.videosdk_roleless_api
    claims = verified.claims
    server = Scope.API in verified.grant.scope and (
        roleless_api or not _videosdk_roleless(verified)
    )
    return Caller(
        record.project_id,
        verified.kid,
        claims.identity,
        capabilities_of(verified, videosdk_roleless_api=roleless_api),
        claims.room,
        participant=not server,
    )


def _videosdk_roleless(verified: VerifiedToken) -> bool:
    """VideoSDK's token without ``roles``: both scopes to VideoSDK, no capability named."""
    grant = verified.grant
    return verified.dialect == "videosdk" and Scope.API in grant.scope and not grant.capabilities


def capabilities_of(
    verified: VerifiedToken, *, videosdk_roleless_api: bool = False
) -> frozenset[Capability]:
    """What a verified token may do on roomkey's API (``admin`` expanded).

    A server token: the capabilities it names. A VideoSDK token without ``roles`` is a
    participant token unless its project opted in (``videosdk_roleless_api``), and then gets the
    crawler role's rights only. A grant that moderates a named room adds that room's moderation.
    """
    grant = verified.grant
    caps = grant.capabilities if Scope.API in grant.scope else NO_CAPABILITIES
    if videosdk_roleless_api and _videosdk_roleless(verified):
        caps = CRAWLER_CAPABILITIES
    if grant.moderate and verified.claims.room is not None:
        caps = caps | {Capability.ROOMS_MODERATE}
    return expand(caps)
