"""How sessions end (left, removed, replaced, revoked, disconnected) and what the room hears,
the WebSocket grace period, and the periodic sweep. Mixed into :class:`AdmissionService`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roomkey.claims import Claims
from roomkey.minting import MintedToken
from roomkey.revocation import InMemoryRevocations, Revocation
from roomkey.service.admission.bus import AdmissionBus
from roomkey.service.admission.events import EVERYONE, Audience, Event, EventType, only
from roomkey.service.admission.rules import Actor
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus
from roomkey.service.context import Context
from roomkey.store import RoomRecord

if TYPE_CHECKING:
    from roomkey.service.admission.cluster import AdmissionCluster
    from roomkey.service.admission.lobby import Lobby

FORGET_AFTER_S = 300.0  # ended sessions answer 409/their end for this long, then 401/404
# ends of a knock the lobby does not announce itself (it does rejections, cancels, expiry)
_NOT_BY_THE_LOBBY = frozenset({SessionStatus.REMOVED, SessionStatus.REPLACED, SessionStatus.LEFT})


class SessionLifecycle:
    """Ending sessions and publishing events, over the admission service's state."""

    ctx: Context
    bus: AdmissionBus
    registry: SessionRegistry
    lobby: Lobby
    cluster: AdmissionCluster | None
    grace_s: float
    claims: dict[str, list[tuple[Claims, str]]]
    platform_tokens: dict[str, MintedToken]
    _detached: dict[str, float]
    remote_sockets: dict[str, dict[str, int]]
    _ended: dict[str, Session]
    observers: list[Callable[[Event], None]]

    def end(
        self,
        session: Session,
        status: SessionStatus,
        reason: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """End a live session: it hears why (``removed`` / ``replaced``), the room that it left.

        Another node's session is ended by that node (asked here, not awaited).
        """
        if not session.live:
            return
        if session.node is not None and self.cluster is not None:
            args = {"session_id": session.id, "status": status.value, "reason": reason}
            self.cluster.tell(session.node, "end", {**args, "data": data or {}})
            return
        was_admitted = session.status is SessionStatus.ADMITTED
        was_waiting = session.status is SessionStatus.WAITING
        session.status, session.reason, session.ended_at = status, reason, self.ctx.clock()
        self.claims.pop(session.id, None)
        self.platform_tokens.pop(session.id, None)
        self._detached.pop(session.id, None)
        self.remote_sockets.pop(session.id, None)
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

    def on_room_deactivated(self, project_id: str, room: RoomRecord) -> int:
        """Tell a deactivated room (``room_deactivated``) and end its live sessions (``removed``,
        reason ``room_deactivated``), under either of its names; how many ended. Called by the
        RoomService after a deactivation, on every node: each ends its own sessions, and the
        room hears of it once."""
        ended = 0
        for name in {room.id, room.custom_id} - {None}:
            sessions = self.registry.in_room(project_id, str(name))
            if not sessions:
                continue
            at = self.ctx.clock()
            data = {"room_id": room.id}
            event = Event(EventType.ROOM_DEACTIVATED, str(name), at, data, project_id=project_id)
            self.bus.publish_once(event, f"deactivated:{room.id}:{name}:{room.deactivated_at}")
            for session in sessions:
                if session.node is None:
                    self.end(session, SessionStatus.REMOVED, "room_deactivated")
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
        """A WebSocket of the session opened (another node's session: that node is told)."""
        if session.node is not None and self.cluster is not None:
            session.sockets += 1  # this node's sockets of the mirror (told again on adoption)
            args = {"session_id": session.id, "node": self.cluster.node}
            self.cluster.tell(session.node, "attach", args)
            return
        session.sockets += 1
        session.last_seen = self.ctx.clock()
        self._detached.pop(session.id, None)

    def detach(self, session: Session) -> None:
        """A WebSocket of the session closed; with none left, the grace period starts."""
        if session.node is not None and self.cluster is not None:
            session.sockets = max(0, session.sockets - 1)
            args = {"session_id": session.id, "node": self.cluster.node}
            self.cluster.tell(session.node, "detach", args)
            return
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
                    self.lobby.withdraw(session, reason="disconnected")
                else:
                    self.end(session, SessionStatus.LEFT, "disconnected")
        for session in [
            s for s in self._ended.values() if (s.ended_at or 0) <= now - FORGET_AFTER_S
        ]:
            self._ended.pop(session.id, None)
            self.registry.forget(session)

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
        if self.cluster is not None and isinstance(session, Session) and session.node is None:
            self.cluster.share(session)  # before the event: others mirror it first
        published = self.bus.publish(event)
        for observer in self.observers:
            observer(published)
        return published
