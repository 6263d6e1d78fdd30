"""The admission server: a participant joins a room with its token and is admitted, held in the
lobby, or refused; sessions leave, refresh, end when revoked; every change is an event on the
room's bus. The lobby and moderation live beside it (:mod:`.lobby`, :mod:`.moderation`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roomkey import jws
from roomkey.capabilities import Capability
from roomkey.claims import Claims
from roomkey.dialects import detect_dialect
from roomkey.errors import (
    AuthenticationError,
    BannedError,
    ForbiddenError,
    InvalidSessionError,
    NotInRoomError,
    RejectedError,
    RevokedTokenError,
    RoomFullError,
    RoomInactiveError,
    RoomLockedError,
    TokenError,
    UnknownRoomError,
    WrongRoomError,
)
from roomkey.grants import JoinMode
from roomkey.minting import MintedToken
from roomkey.revocation import InMemoryRevocations, Revocation
from roomkey.service.admission.bus import AdmissionBus, InMemoryBus
from roomkey.service.admission.credentials import SessionCredentials
from roomkey.service.admission.events import EVERYONE, Audience, Event, EventType, only
from roomkey.service.admission.issuing import SessionTokens
from roomkey.service.admission.lobby import Lobby
from roomkey.service.admission.moderation import Moderation
from roomkey.service.admission.rules import Actor, RoomRules, grant_may_admit, rules_for
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus
from roomkey.service.auth import INVALID_OR_EXPIRED, Caller, token_from_header
from roomkey.service.bans import BanService
from roomkey.service.context import Context
from roomkey.service.ids import new_id
from roomkey.service.rooms import RoomService
from roomkey.service.tokens import TokenService
from roomkey.store import RoomRecord
from roomkey.verifying import UNKNOWN_OR_BAD, VerifiedToken

SESSION_TTL_S = 3600  # a session credential's lifetime; refresh gives a new one
GRACE_S = 30.0  # how long a session may have no WebSocket before it ends as left
FORGET_AFTER_S = 300.0  # ended sessions answer 409/their end for this long, then 401/404
SESSION_PREFIX = "rks1."
# ends of a knock the lobby does not announce itself (it does rejections, cancels, expiry)
_NOT_BY_THE_LOBBY = frozenset({SessionStatus.REMOVED, SessionStatus.REPLACED, SessionStatus.LEFT})

Authorizer = Callable[[str | None, Capability, str], Caller]


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    """The answer to a join: admitted (with the room) or waiting (with a lobby position)."""

    session: Session
    session_token: str
    position: int | None = None
    participants: list[dict[str, Any]] = field(default_factory=list)
    participant_token: MintedToken | None = None

    @property
    def status(self) -> str:
        """``admitted`` or ``waiting``."""
        return self.session.status.value


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A refresh: a new session credential and participant token(s) with the current grant."""

    session: Session
    session_token: str
    session_expires_at: int
    token: MintedToken
    participant_token: MintedToken | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as its holder sees it."""

    session: Session
    position: int | None = None
    participant_token: MintedToken | None = None


class AdmissionService:
    """Joins, sessions and their events, over one :class:`AdmissionBus` per node."""

    def __init__(
        self,
        ctx: Context,
        tokens: TokenService,
        rooms: RoomService,
        bans: BanService,
        authorize: Authorizer,
        *,
        bus: AdmissionBus | None = None,
        grace_s: float = GRACE_S,
    ) -> None:
        self.ctx, self.tokens, self.rooms, self.bans = ctx, tokens, rooms, bans
        self._authorize = authorize
        self.bus: AdmissionBus = bus if bus is not None else InMemoryBus()
        self.registry = SessionRegistry()
        key = ctx.box.derive_key("session-credentials")
        self.credentials = SessionCredentials(key, SESSION_TTL_S)
        self.issuing = SessionTokens(tokens, ctx.state)
        self.grace_s = grace_s
        self.lobby = Lobby(self)
        self.moderation = Moderation(self)
        # what each live session's tokens say (joined with, then refreshed), for revocations
        self.claims: dict[str, list[tuple[Claims, str]]] = {}
        # the platform token handed to an admitted waiter, until its session ends
        self.platform_tokens: dict[str, MintedToken] = {}
        self._detached: dict[str, float] = {}
        # ended sessions, kept a while so that a late second decision answers 409
        self._ended: dict[str, Session] = {}

    # ---- settings --------------------------------------------------------------------------

    def room_record(self, project_id: str, room: str) -> RoomRecord | None:
        """The room's record in memory (None for a room not created yet)."""
        return self.ctx.project(project_id).room(room)

    def rules(self, project_id: str, room: str) -> RoomRules:
        """The room's admission settings (the project's, overridden by the room's)."""
        project = self.ctx.project(project_id)
        return rules_for(project.record.settings, project.room(room))

    def admit_policy(self, project_id: str, room: str) -> str:
        """Who may admit in the room: ``direct``, ``moderators`` or ``admins``."""
        return self.rules(project_id, room).admit_policy

    # ---- joining ---------------------------------------------------------------------------

    async def join(self, token: str, room: str, *, project: str | None = None) -> JoinOutcome:
        """Verify ``token`` once (every check, bound to ``room``), then admit, hold or refuse.

        Raises :class:`AuthenticationError` (401, ``details.reason`` the verifier's code),
        :class:`RoomInactiveError`, :class:`UnknownRoomError`, :class:`BannedError`,
        :class:`RoomLockedError`, :class:`RoomFullError`, UnknownProjectError.
        """
        project_id, verified = self._verify(token, room, project)
        claims = verified.claims
        identity = str(claims.identity)
        if self.bans.is_banned(project_id, room, identity):
            raise BannedError(f"{identity!r} is banned from room {room!r}", room=room)
        session = self._new_session(project_id, room, verified)
        rules = self.rules(project_id, room)
        if self._waits(session, rules, self.room_record(project_id, room)):
            return self._knock(session, claims, verified.kid)
        self.check_capacity(project_id, room, identity)
        platform = await self._platform_token(session, rules)
        self.check_capacity(project_id, room, identity)  # others may have joined meanwhile
        self._register(session, claims, verified.kid)
        self.admitted(session, platform)
        return JoinOutcome(
            session,
            self._credential(session),
            participants=self.visible(session.project_id, room, session.grant.moderate),
            participant_token=platform,
        )

    def _verify(self, token: str, room: str, named: str | None) -> tuple[str, VerifiedToken]:
        project_id = self._project_of(token, named)
        outcome = self.tokens.verify(token, project=project_id, room=room, scope="room")
        if not outcome.valid or outcome.verified is None:
            assert outcome.error is not None
            if isinstance(outcome.error, RevokedTokenError):
                self._refuse_if_banned(token, project_id, room)
            raise _refusal(outcome.error)
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
            raise _refusal(exc) from exc
        owner = self.ctx.state.project_of_key(kid) if kid else None
        if owner is None:
            raise _refusal(AuthenticationError(UNKNOWN_OR_BAD, reason="bad_signature"))
        return owner.record.id

    def _new_session(self, project_id: str, room: str, verified: VerifiedToken) -> Session:
        claims = verified.claims
        return Session(
            id=new_id("ses"),
            project_id=project_id,
            room=room,
            identity=str(claims.identity),
            grant=claims.grant,
            dialect=verified.dialect,
            status=SessionStatus.WAITING,
            created_at=self.ctx.clock(),
            token_jti=claims.jti,
            token_kid=verified.kid,
            token_issued_at=claims.issued_at,
            token_expires_at=claims.expires_at,
            name=claims.name,
            role=claims.role,
            metadata=claims.metadata,
            attributes=claims.attributes,
        )

    def _waits(self, session: Session, rules: RoomRules, record: RoomRecord | None) -> bool:
        """``join: ask`` waits; in a locked room everyone waits who may not admit others.

        Locked, ``direct`` counts as ``moderators``: every ``join: direct`` holder may admit
        under it, so a lock would otherwise hold nobody.
        """
        if session.grant.join is JoinMode.ASK:
            return True
        if record is None or not record.locked:
            return False
        policy = "moderators" if rules.admit_policy == "direct" else rules.admit_policy
        if grant_may_admit(session.grant, policy):
            return False
        if not rules.locked_lobby:
            raise RoomLockedError(f"room {session.room!r} is locked", room=session.room)
        return True

    def _knock(self, session: Session, claims: Claims, kid: str) -> JoinOutcome:
        self._register(session, claims, kid)
        position = self.lobby.position(session)
        data = {"session_id": session.id, "identity": session.identity, "name": session.name}
        self.lobby.announce(session, EventType.LOBBY_KNOCK, {**data, "position": position})
        return JoinOutcome(session, self._credential(session), position=position)

    def check_capacity(self, project_id: str, room: str, identity: str) -> None:
        """Raise :class:`RoomFullError` when the room holds its maximum of admitted
        participants (the identity's own older session, which it would replace, not counted)."""
        record = self.room_record(project_id, room)
        limit = record.max_participants if record is not None else None
        if limit is None:
            return
        admitted = sum(
            1
            for s in self.registry.in_room(project_id, room)
            if s.status is SessionStatus.ADMITTED and s.identity != identity
        )
        if admitted >= limit:
            raise RoomFullError(f"room {room!r} is full", room=room, max_participants=limit)

    async def _platform_token(self, session: Session, rules: RoomRules) -> MintedToken | None:
        if rules.platform_token is None:
            return None
        return await self.issuing.platform(session, rules.platform_token)

    def _register(self, session: Session, claims: Claims, kid: str) -> None:
        """Add the session; the same identity's older live session is replaced (LiveKit's
        rule) and told so."""
        older = self.registry.add(session)
        self.claims[session.id] = [(claims, kid)]
        if older is not None:
            self.end(older, SessionStatus.REPLACED, "replaced", {"session_id": session.id})

    def admitted(self, session: Session, platform: MintedToken | None) -> None:
        """Mark ``session`` admitted and announce it to the room."""
        session.status = SessionStatus.ADMITTED
        session.joined_at = self.ctx.clock()
        if platform is not None:
            self.platform_tokens[session.id] = platform
        self.publish(session, EventType.PARTICIPANT_JOINED, {"participant": session.public()})

    def _credential(self, session: Session) -> str:
        return self.credentials.mint(session.id, session.project_id, session.room, self.ctx.now())

    # ---- sessions --------------------------------------------------------------------------

    def authenticate_session(self, credential: str) -> Session:
        """The live session of a valid credential; raises :class:`InvalidSessionError`."""
        session = self.session_of(credential)
        if not session.live:
            raise InvalidSessionError(
                f"the session has ended ({session.status.value})", status=session.status.value
            )
        return session

    def session_of(self, credential: str) -> Session:
        """The session of a valid credential, live or recently ended.

        Raises :class:`InvalidSessionError` (malformed, forged, expired, unknown here).
        """
        claim = self.credentials.check(credential, self.ctx.clock())
        session = self.registry.get(claim.session_id)
        if session is None or (session.project_id, session.room) != (claim.project_id, claim.room):
            raise InvalidSessionError("the session is not known on this node; join again")
        return session

    def own_session(
        self,
        authorization: str | None,
        session_token: str | None,
        session_id: str,
        *,
        live: bool = True,
    ) -> Session:
        """The session ``session_id`` of the credential sent (``X-Session-Token`` or a bearer
        ``rks1.`` credential); with ``live``, only while it waits or takes part.

        Raises :class:`InvalidSessionError` and ForbiddenError (another session's credential).
        """
        credential = session_token or _session_credential(authorization)
        if credential is None:
            raise InvalidSessionError(
                "send the session credential: X-Session-Token or Authorization: Bearer rks1...."
            )
        session = self.authenticate_session(credential) if live else self.session_of(credential)
        if session.id != session_id:
            raise ForbiddenError("the credential is of another session")
        return session

    def view(self, session: Session) -> SessionView:
        """What the holder of ``session`` may know of it: status, lobby position, platform
        token once admitted. Raises :class:`RejectedError` for a rejected knock."""
        if session.status is SessionStatus.WAITING:
            self.lobby.expire_due(self.ctx.clock())
        if session.status is SessionStatus.REJECTED:
            raise RejectedError(f"the knock was rejected: {session.reason}", reason=session.reason)
        position = self.lobby.position(session) if session.status is SessionStatus.WAITING else None
        return SessionView(session, position, self.platform_tokens.get(session.id))

    def actor(self, authorization: str | None, session_token: str | None, room: str) -> Actor:
        """Who acts on ``room``: an admitted session of it (``X-Session-Token`` or a bearer
        ``rks1.`` credential), else a server token with ``rooms:moderate`` for it.

        Raises InvalidSessionError, AuthenticationError and ForbiddenError.
        """
        credential = session_token or _session_credential(authorization)
        if credential is None:
            return self._token_actor(authorization, room)
        session = self.authenticate_session(credential)
        if session.room != room:
            raise ForbiddenError(
                "this session belongs to another room", missing=Capability.ROOMS_MODERATE.value
            )
        if session.status is not SessionStatus.ADMITTED:
            raise ForbiddenError("a session waiting in the lobby cannot act on the room")
        return Actor(session.project_id, room, session=session)

    def _token_actor(self, authorization: str | None, room: str) -> Actor:
        """A server token with ``rooms:moderate`` for the room; a participant token that
        moderates its room acts with its own grant (a moderator is no admin)."""
        caller = self._authorize(authorization, Capability.ROOMS_MODERATE, room)
        owner = self.ctx.state.room_owner.get(room)
        if owner is not None and owner != caller.project_id:
            raise WrongRoomError(f"room {room!r} belongs to another project", room=room)
        if not caller.participant:
            return Actor(caller.project_id, room, caller=caller)
        claims = self.tokens.verifier.verify(token_from_header(authorization), room=room).claims
        grant, role = claims.grant, claims.role
        return Actor(caller.project_id, room, caller=caller, token_grant=grant, token_role=role)

    def visible(self, project_id: str, room: str, sees_hidden: bool) -> list[dict[str, Any]]:
        """The admitted participants of a room (hidden ones only for moderators)."""
        return [
            s.public()
            for s in self.registry.in_room(project_id, room)
            if s.status is SessionStatus.ADMITTED and (sees_hidden or not s.grant.hidden)
        ]

    def participants(self, actor: Actor) -> list[dict[str, Any]]:
        """The room's admitted participants as ``actor`` may see them."""
        return self.visible(actor.project_id, actor.room, actor.grant.moderate)

    def target(self, actor: Actor, identity: str) -> Session:
        """The live session of ``identity`` in the actor's room; raises NotInRoomError."""
        session = self.registry.of_identity(actor.project_id, actor.room, identity)
        if session is None or not session.live:
            raise NotInRoomError(f"{identity!r} is not in room {actor.room!r}", identity=identity)
        return session

    def live_sessions(self) -> list[Session]:
        """Every live session on this node."""
        sessions = (self.registry.get(session_id) for session_id in list(self.claims))
        return [s for s in sessions if s is not None and s.live]

    def leave(self, session: Session) -> Session:
        """End the session as ``left`` (a waiting one as cancelled)."""
        if session.status is SessionStatus.WAITING:
            return self.lobby.cancel(session)
        self.end(session, SessionStatus.LEFT, "left")
        return session

    async def refresh(self, session: Session) -> Refreshed:
        """A fresh credential and participant token with the session's current grant.

        Raises InvalidSessionError when it ended, and ends it (``removed``, ``revoked``)
        when a revocation covers it; BannedError and the issuance errors of TokenService.
        """
        if self._revoked(session) is not None:
            self.end(session, SessionStatus.REMOVED, "revoked")
            raise InvalidSessionError("the session was revoked", status="removed")
        token = await self.issuing.own(session)
        rules = self.rules(session.project_id, session.room)
        platform = None
        if session.status is SessionStatus.ADMITTED:
            platform = await self._platform_token(session, rules)
        if not session.live:  # ended while the tokens were minted
            raise InvalidSessionError(f"the session has ended ({session.status.value})")
        self.claims.setdefault(session.id, []).append((token.claims, token.kid))
        refreshed = {"expires_at": token.claims.expires_at}
        self.publish(session, EventType.TOKEN_REFRESHED, refreshed, only(session.id))
        credential = self._credential(session)
        expires = self.ctx.now() + self.credentials.ttl_s
        return Refreshed(session, credential, expires, token, platform)

    # ---- ending, revocation, sockets ------------------------------------------------------

    def end(
        self,
        session: Session,
        status: SessionStatus,
        reason: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """End a live session: it hears why (``removed`` / ``replaced``), the room that it left."""
        was_admitted = session.status is SessionStatus.ADMITTED
        was_waiting = session.status is SessionStatus.WAITING
        session.status, session.reason, session.ended_at = status, reason, self.ctx.clock()
        self.claims.pop(session.id, None)
        self.platform_tokens.pop(session.id, None)
        self._detached.pop(session.id, None)
        self._ended[session.id] = session
        told = {
            SessionStatus.REPLACED: EventType.REPLACED,
            SessionStatus.REMOVED: EventType.REMOVED,
        }
        if status in told:
            self.publish(
                session, told[status], {"reason": reason, **(data or {})}, only(session.id)
            )
        gone = {"session_id": session.id, "identity": session.identity, "reason": reason}
        if was_admitted:
            self.publish(session, EventType.PARTICIPANT_LEFT, gone)
        elif was_waiting and status in _NOT_BY_THE_LOBBY:  # the knock is gone: tell admitters
            self.publish(session, EventType.LOBBY_CANCELLED, gone, Audience(admitters=True))

    def on_revoked(self, project_id: str, rule: Revocation) -> int:
        """End every live session of the project that ``rule`` covers (``removed``,
        reason ``revoked``); how many. Called by the RevocationService after a new rule."""
        one = InMemoryRevocations()
        one.add(rule)
        ended = 0
        for session_id, tokens in list(self.claims.items()):
            session = self.registry.get(session_id)
            if session is None or session.project_id != project_id or not session.live:
                continue
            if any(one(claims, kid) is not None for claims, kid in tokens):
                self.end(session, SessionStatus.REMOVED, "revoked")
                ended += 1
        return ended

    def _revoked(self, session: Session) -> Revocation | None:
        check = self.ctx.project(session.project_id).revocations
        for claims, kid in self.claims.get(session.id, []):
            hit = check(claims, kid)
            if hit is not None:
                return hit
        return None

    def attach(self, session: Session) -> None:
        """A WebSocket of the session opened."""
        session.sockets += 1
        session.last_seen = self.ctx.clock()
        self._detached.pop(session.id, None)

    def detach(self, session: Session) -> None:
        """A WebSocket of the session closed; with none left, the grace period starts."""
        session.sockets = max(0, session.sockets - 1)
        session.last_seen = self.ctx.clock()
        if session.sockets == 0 and session.live:
            self._detached[session.id] = session.last_seen

    def sweep(self) -> None:
        """Expire due knocks, end sessions past their grace period, forget old ended ones."""
        now = self.ctx.clock()
        self.lobby.expire_due(now)
        for session_id, since in list(self._detached.items()):
            session = self.registry.get(session_id)
            if session is not None and session.live and now - since >= self.grace_s:
                if session.status is SessionStatus.WAITING:
                    self.lobby.cancel(session, reason="disconnected")
                else:
                    self.end(session, SessionStatus.LEFT, "disconnected")
        for session in [
            s for s in self._ended.values() if (s.ended_at or 0) <= now - FORGET_AFTER_S
        ]:
            self._ended.pop(session.id, None)
            self.registry.forget(session)

    def snapshot(self, session: Session) -> dict[str, Any]:
        """The room's state as ``session`` may see it (for ``resync``)."""
        record = self.room_record(session.project_id, session.room)
        state: dict[str, Any] = {
            "seq": self.bus.last_seq(session.project_id, session.room),
            "status": session.status.value,
            "locked": bool(record and record.locked),
            "participants": [],
        }
        if session.status is SessionStatus.ADMITTED:
            state["participants"] = self.visible(
                session.project_id, session.room, session.grant.moderate
            )
            policy = self.admit_policy(session.project_id, session.room)
            if session.may_admit(policy):
                state["lobby"] = [self.lobby.knock(s) for s in self.lobby.waiting(session)]
        return state

    def publish(
        self,
        session: Session | Actor,
        kind: EventType,
        data: dict[str, Any],
        audience: Audience = EVERYONE,
    ) -> Event:
        """Publish one event on the room's bus (hidden sessions' events marked ``hidden``)."""
        if isinstance(session, Session) and session.grant.hidden:
            data = {**data, "hidden": True}
        event = Event(
            kind, session.room, self.ctx.clock(), data, audience, project_id=session.project_id
        )
        return self.bus.publish(event)


def _session_credential(authorization: str | None) -> str | None:
    """The ``rks1.`` credential of ``Authorization: Bearer rks1....``, if that is what it is."""
    if not authorization:
        return None
    token = token_from_header(authorization)
    return token if token.startswith(SESSION_PREFIX) else None


def _refusal(error: Exception) -> Exception:
    """A verifier's refusal as the join answers it: the room's state keeps its own code
    (``room_inactive``, ``unknown_room``), any other reason is 401 naming the verifier's code."""
    if isinstance(error, RoomInactiveError | UnknownRoomError | AuthenticationError):
        return error
    assert isinstance(error, TokenError)
    details = {**error.details, "reason": error.code}
    return AuthenticationError(f"{INVALID_OR_EXPIRED}: {error.message}", **details)
