"""Who is calling: a server-scope (``api``) token signed with one of a project's API keys."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from roomkey.errors import RoomkeyError, TokenError, WrongScopeError
from roomkey.grants import Scope
from roomkey.keys import Key
from roomkey.service.state import ServerState
from roomkey.verifying import TokenVerifier, VerifiedToken

# The seeds' wording, kept so that clients written against VideoSDK recognise it.
INVALID_OR_EXPIRED = "Token is invalid or expired"


class AuthenticationError(RoomkeyError):
    """No usable server token (HTTP 401); ``details.reason`` holds the precise code."""

    code = "unauthorized"


class ForbiddenError(RoomkeyError):
    """A valid token that may not do this (HTTP 403), e.g. a participant token."""

    code = "forbidden"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller of the management and token-issuing API."""

    project_id: str
    kid: str
    identity: str | None

    @property
    def label(self) -> str:
        """How the caller appears in the audit log."""
        return f"{self.kid}:{self.identity}" if self.identity else self.kid


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


@dataclass(frozen=True, slots=True)
class _Verified:
    """A server token that passed every check at ``verified_at`` with ``key``."""

    verified: VerifiedToken
    key: Key
    verified_at: float
    expires_at: float


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

    def verify(self, verifier: TokenVerifier, token: str) -> VerifiedToken:
        """``verifier.verify(token, scope=Scope.API)``, skipping the parse and HMAC on a hit."""
        now = verifier.now()
        entry = self._entries.get(token)
        if (
            entry is not None
            and entry.verified_at <= now < entry.expires_at
            and verifier.keys.get(entry.verified.kid, now) is entry.key
        ):
            verifier.validate_application(entry.verified, scope=Scope.API)
            return entry.verified
        verified = verifier.verify(token, scope=Scope.API, now=now)
        key = verifier.keys.get(verified.kid, now)
        exp = verified.claims.expires_at
        if key is not None and exp is not None:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token] = _Verified(verified, key, now, float(exp))
        return verified


_CACHES: WeakKeyDictionary[TokenVerifier, VerifiedCallerCache] = WeakKeyDictionary()


def _cache_of(verifier: TokenVerifier) -> VerifiedCallerCache:
    cache = _CACHES.get(verifier)
    if cache is None:
        cache = _CACHES[verifier] = VerifiedCallerCache()
    return cache


def authenticate(verifier: TokenVerifier, header: str | None, state: ServerState) -> Caller:
    """Verify the caller's token as an API-scope token of a known project."""
    token = token_from_header(header)
    try:
        verified = _cache_of(verifier).verify(verifier, token)
    except WrongScopeError as exc:
        raise ForbiddenError(
            "a participant (room-scope) token cannot call this API; use a server token",
            reason=exc.code,
        ) from exc
    except TokenError as exc:
        raise AuthenticationError(f"{INVALID_OR_EXPIRED}: {exc.message}", reason=exc.code) from exc
    record = state.keys.get(verified.kid)
    if record is None or record.purpose != "api":
        raise ForbiddenError(
            "server tokens must be signed with an API key, not a signing key", reason="wrong_key"
        )
    return Caller(record.project_id, verified.kid, verified.claims.identity)
