"""Joining, first step: the participant token verified once, with every check, for the project
its key belongs to (or the one named); a banned identity answers ``banned``."""

from __future__ import annotations

from roomkey import jws
from roomkey.dialects import detect_dialect
from roomkey.errors import (
    AuthenticationError,
    BannedError,
    RevokedTokenError,
    RoomInactiveError,
    TokenError,
    UnknownRoomError,
)
from roomkey.service.admission.sessions import Session, SessionStatus
from roomkey.service.auth import INVALID_OR_EXPIRED
from roomkey.service.bans import BanService
from roomkey.service.context import Context
from roomkey.service.ids import new_id
from roomkey.service.tokens import TokenService
from roomkey.verifying import UNKNOWN_OR_BAD, VerifiedToken


class JoinVerifier:
    """Verifies join tokens through the project's :class:`TokenService`."""

    def __init__(self, ctx: Context, tokens: TokenService, bans: BanService) -> None:
        self.ctx, self.tokens, self.bans = ctx, tokens, bans

    def verify(self, token: str, room: str, named: str | None) -> tuple[str, VerifiedToken]:
        """The project and the verified token; raises what :meth:`AdmissionService.join` does
        for an invalid token or a banned identity."""
        project_id = self._project_of(token, named)
        outcome = self.tokens.verify(token, project=project_id, room=room, scope="room")
        if not outcome.valid or outcome.verified is None:
            assert outcome.error is not None
            if isinstance(outcome.error, RevokedTokenError):
                self._refuse_if_banned(token, project_id, room)
            raise refusal(outcome.error)
        return project_id, outcome.verified

    def _refuse_if_banned(self, token: str, project_id: str, room: str) -> None:
        """A banned identity's revoked token answers ``banned``, the reason that matters.

        Only reached after every other check passed (revocation is the verifier's last step).
        """
        identity = self.tokens.verifier.verify_signature(token).claims.identity
        if identity is not None and self.bans.is_banned(project_id, room, identity):
            raise BannedError(f"{identity!r} is banned from room {room!r}", room=room)

    def _project_of(self, token: str, named: str | None) -> str:
        """The project named, else the one whose key signed the token (checked by verify)."""
        if named is not None:
            return self.tokens.bound_project(named)
        try:
            parsed = jws.parse(token, self.ctx.settings.max_token_bytes)
            kid = parsed.kid or detect_dialect(parsed.payload).issuer(parsed.payload)
        except TokenError as exc:
            raise refusal(exc) from exc
        owner = self.ctx.state.project_of_key(kid) if kid else None
        if owner is None:
            raise refusal(AuthenticationError(UNKNOWN_OR_BAD, reason="bad_signature"))
        return owner.record.id


def new_session(project_id: str, room: str, verified: VerifiedToken, now: float) -> Session:
    """A waiting session for a verified participant token."""
    claims = verified.claims
    return Session(
        id=new_id("ses"),
        project_id=project_id,
        room=room,
        identity=str(claims.identity),
        grant=claims.grant,
        dialect=verified.dialect,
        status=SessionStatus.WAITING,
        created_at=now,
        token_jti=claims.jti,
        token_kid=verified.kid,
        token_issued_at=claims.issued_at,
        token_expires_at=claims.expires_at,
        name=claims.name,
        role=claims.role,
        metadata=claims.metadata,
        attributes=claims.attributes,
    )


def refusal(error: Exception) -> Exception:
    """A verifier's refusal as the join answers it: the room's state keeps its own code
    (``room_inactive``, ``unknown_room``), any other reason is 401 naming the verifier's code."""
    if isinstance(error, RoomInactiveError | UnknownRoomError | AuthenticationError):
        return error
    assert isinstance(error, TokenError)
    details = {**error.details, "reason": error.code}
    return AuthenticationError(f"{INVALID_OR_EXPIRED}: {error.message}", **details)
