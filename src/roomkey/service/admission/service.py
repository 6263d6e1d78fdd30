"""The admission server: a participant joins a room with its token and is admitted, held in the
lobby, or refused; sessions leave, refresh, end when revoked; every change is an event on the
room's bus. Beside it: :mod:`.joining` (the token check), :mod:`.lobby`, :mod:`.moderation`,
:mod:`.lifecycle` (how sessions end), :mod:`.issuing` (tokens minted for sessions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from roomkey.capabilities import Capability
from roomkey.claims import Claims
from roomkey.errors import (
    BannedError,
    ForbiddenError,
    InvalidSessionError,
    NotInRoomError,
    RejectedError,
    RoomFullError,
    RoomLockedError,
    WrongRoomError,
)
from roomkey.grants import JoinMode
from roomkey.minting import MintedToken
from roomkey.service.admission.bus import AdmissionBus, InMemoryBus
from roomkey.service.admission.cluster import AdmissionCluster
from roomkey.service.admission.credentials import SessionCredentials
from roomkey.service.admission.events import Event, EventType, only
from roomkey.service.admission.expiry import TokenExpiry
from roomkey.service.admission.issuing import SessionTokens
from roomkey.service.admission.joining import JoinVerifier, new_session
from roomkey.service.admission.lifecycle import SessionLifecycle
from roomkey.service.admission.lobby import Lobby
from roomkey.service.admission.moderation import Moderation
from roomkey.service.admission.outcomes import JoinOutcome, Refreshed, SessionView, tokens_from
from roomkey.service.admission.remote import RemoteOps
from roomkey.service.admission.rules import Actor, RoomRules, grant_may_admit, rules_for
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus
from roomkey.service.auth import Caller, token_from_header
from roomkey.service.bans import BanService
from roomkey.service.context import Context
from roomkey.service.redis import RedisLink
from roomkey.service.rooms import RoomService
from roomkey.service.tokens import TokenService
from roomkey.store import RoomRecord

SESSION_TTL_S = 3600  # a session credential's lifetime; refresh gives a new one
SESSION_PREFIX = "rks1."
# participants listed in a join's answer (joining order); the rest: GET .../participants.
# The whole room in every answer cost O(N) bytes a join (397 KiB at 1,000 participants).
JOIN_PARTICIPANTS_MAX = 100

Authorizer = Callable[[str | None, Capability, str], Caller]


class AdmissionService(SessionLifecycle, RemoteOps):
    """Joins, sessions and their events, over one :class:`AdmissionBus` per node; with
    ``redis``, over a :class:`RedisBus` shared by every node (see :mod:`.cluster`)."""

    def __init__(
        self,
        ctx: Context,
        tokens: TokenService,
        rooms: RoomService,
        bans: BanService,
        authorize: Authorizer,
        *,
        bus: AdmissionBus | None = None,
        grace_s: float | None = None,
        redis: RedisLink | None = None,
    ) -> None:
        self.ctx, self.tokens, self.rooms, self.bans = ctx, tokens, rooms, bans
        self.clock = ctx.clock
        self._authorize = authorize
        self.registry = SessionRegistry()
        self.cluster: AdmissionCluster | None = None
        if redis is not None:
            bus = self.open_cluster(redis)
        self.bus: AdmissionBus = bus if bus is not None else InMemoryBus()
        key = ctx.box.derive_key("session-credentials")
        self.credentials = SessionCredentials(key, SESSION_TTL_S)
        self.issuing = SessionTokens(tokens, ctx.state)
        self._joins = JoinVerifier(ctx, tokens, bans)
        self.grace_s = grace_s if grace_s is not None else ctx.settings.admission_grace_s
        self.lobby = Lobby(self)
        self.moderation = Moderation(self)
        self.expiry = TokenExpiry()
        # what each live session's tokens say (joined with, then refreshed), for revocations
        self.claims: dict[str, list[tuple[Claims, str]]] = {}
        # the platform token handed to an admitted waiter, until its session ends
        self.platform_tokens: dict[str, MintedToken] = {}
        self._detached: dict[str, float] = {}
        self.remote_sockets: dict[str, dict[str, int]] = {}
        # ended sessions, kept a while so that a late second decision answers 409
        self._ended: dict[str, Session] = {}
        # called with every event published through publish() (webhooks listen here)
        self.observers: list[Callable[[Event], None]] = []

    # ---- settings --------------------------------------------------------------------------

    def room_record(self, project_id: str, room: str) -> RoomRecord | None:
        """The room's record in memory (None for a room not created yet)."""
        return self.ctx.project(project_id).room(room)

    def sweep(self) -> None:
        """The lifecycle's sweep, then ejection at token expiry where rooms ask for it."""
        super().sweep()
        self.expiry.check(
            self.registry.admitted_rooms(), self.rules, self.end, self.publish, self.ctx.clock()
        )

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
        :class:`RoomLockedError`, :class:`RoomFullError`, UnknownProjectError,
        :class:`AdmissionUnavailableError` (several nodes, and Redis does not answer).
        """
        self.require_up()
        project_id, verified = self._joins.verify(token, room, project)
        claims = verified.claims
        identity = str(claims.identity)
        if self.bans.is_banned(project_id, room, identity):
            raise BannedError(f"{identity!r} is banned from room {room!r}", room=room)
        # a token minted elsewhere may name a room not created yet: the first join creates it
        # where the project creates rooms on first use (as issuing a token would)
        await self.rooms.resolve_for_issue(project_id, room)
        session = new_session(project_id, room, verified, self.ctx.clock())
        rules = self.rules(project_id, room)
        if self._waits(session, rules, self.room_record(project_id, room)):
            return self._knock(session, claims, verified.kid)
        self.check_capacity(project_id, room, identity)
        platform = await self._platform_token(session, rules)
        self.check_capacity(project_id, room, identity)  # others may have joined meanwhile
        self._register(session, claims, verified.kid)
        self.admitted(session, platform)
        sees_hidden = session.grant.moderate
        return JoinOutcome(
            session,
            self._credential(session),
            participants=self.first_participants(project_id, room, sees_hidden),
            participants_total=self.registry.admitted_count(project_id, room, hidden=sees_hidden),
            participant_token=platform,
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
        if self.registry.admitted_count(project_id, room, besides=identity) >= limit:
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
        self.publish(session, EventType.PARTICIPANT_JOINED, {"participant": self.public(session)})

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
            self.lobby.expire_due(self.ctx.clock(), [session])
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

    def visible(
        self, project_id: str, room: str, sees_hidden: bool, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The admitted participants of a room in the order they were admitted (hidden ones
        only for moderators), at most ``limit``."""
        out: list[dict[str, Any]] = []
        for session in self.registry.admitted(project_id, room):
            if limit is not None and len(out) >= limit:
                break
            if sees_hidden or not session.grant.hidden:
                out.append(self.public(session))
        return out

    def public(self, session: Session) -> dict[str, Any]:
        """What the room sees of ``session`` (see :meth:`Session.public`)."""
        return session.public()

    def first_participants(self, project_id: str, room: str, sees_hidden: bool) -> bytes:
        """The first :data:`JOIN_PARTICIPANTS_MAX` participants (as :meth:`visible`), as a
        JSON array assembled from each session's cached encoding."""
        parts: list[bytes] = []
        for session in self.registry.admitted(project_id, room):
            if len(parts) >= JOIN_PARTICIPANTS_MAX:
                break
            if sees_hidden or not session.grant.hidden:
                parts.append(session.public_json())
        return b"[" + b",".join(parts) + b"]"

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

    async def leave(self, session: Session) -> Session:
        """End the session as ``left`` (a waiting one as cancelled), on the node holding it.

        Raises AlreadyDecidedError, AdmissionUnavailableError (that node does not answer).
        """
        if session.node is not None:
            await self.route(session, "leave", {})
            return session
        if session.status is SessionStatus.WAITING:
            return self.lobby.withdraw(session)
        self.end(session, SessionStatus.LEFT, "left")
        return session

    async def refresh(self, session: Session) -> Refreshed:
        """A fresh credential and participant token with the session's current grant.

        Raises InvalidSessionError when it ended, and ends it (``removed``, ``revoked``)
        when a revocation covers it; BannedError and the issuance errors of TokenService;
        AdmissionUnavailableError when the node holding it does not answer.
        """
        if session.node is not None:
            token, platform = tokens_from(await self.route(session, "refresh", {}))
            expires = self.ctx.now() + self.credentials.ttl_s
            return Refreshed(session, self._credential(session), expires, token, platform)
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
        session.token_expires_at = token.claims.expires_at  # the deadline eject_at_token_exp uses
        refreshed = {"expires_at": token.claims.expires_at}
        self.publish(session, EventType.TOKEN_REFRESHED, refreshed, only(session.id))
        credential = self._credential(session)
        expires = self.ctx.now() + self.credentials.ttl_s
        return Refreshed(session, credential, expires, token, platform)

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


def _session_credential(authorization: str | None) -> str | None:
    """The ``rks1.`` credential of ``Authorization: Bearer rks1....``, if that is what it is."""
    if not authorization:
        return None
    token = token_from_header(authorization)
    return token if token.startswith(SESSION_PREFIX) else None
