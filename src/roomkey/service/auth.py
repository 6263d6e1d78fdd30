"""Who is calling: a server-scope (``api``) token signed with one of a project's API keys."""

from __future__ import annotations

from dataclasses import dataclass

from roomkey.errors import RoomkeyError, TokenError, WrongScopeError
from roomkey.grants import Scope
from roomkey.service.state import ServerState
from roomkey.verifying import TokenVerifier

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


def authenticate(verifier: TokenVerifier, header: str | None, state: ServerState) -> Caller:
    """Verify the caller's token as an API-scope token of a known project."""
    token = token_from_header(header)
    try:
        verified = verifier.verify(token, scope=Scope.API)
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
