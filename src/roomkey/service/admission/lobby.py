"""The lobby (the seeds' ``ask_join``): knocks wait until someone who may admit decides.

The first decision wins; a second answers 409 ``already_decided``. A knock expires after the
room's ``knock_timeout_s`` (checked lazily on every lobby access, and by the periodic sweep);
the waiting participant may cancel. Decisions reach the waiter (``only``) and the admitters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from roomkey.errors import AlreadyDecidedError, NotInRoomError
from roomkey.service.admission.events import Audience, EventType, only
from roomkey.service.admission.room_state import AdmissionCore
from roomkey.service.admission.rules import Actor
from roomkey.service.admission.sessions import Session, SessionStatus


def _waiter_and_admitters(session: Session) -> Audience:
    return Audience(admitters=True, sessions=frozenset({session.id}))


class Lobby:
    """Knocks of every room on this node, decided by admitters."""

    def __init__(self, admission: AdmissionCore) -> None:
        self.admission = admission

    def waiting(self, where: Session | Actor) -> list[Session]:
        """The room's knocks, oldest first (expired ones are expired first)."""
        sessions = self.admission.registry.in_room(where.project_id, where.room)
        waiting = [s for s in sessions if s.status is SessionStatus.WAITING]
        self.expire_due(self.admission.ctx.clock(), waiting)  # this room's only: lazily
        live = (s for s in waiting if s.status is SessionStatus.WAITING)
        return sorted(live, key=lambda s: s.created_at)

    def position(self, session: Session) -> int:
        """The knock's place in its room's lobby, from 1."""
        ids = [s.id for s in self.waiting(session)]
        return ids.index(session.id) + 1 if session.id in ids else 0

    def knock(self, session: Session) -> dict[str, Any]:
        """A knock as admitters see it."""
        return {
            "session_id": session.id,
            "identity": session.identity,
            "name": session.name,
            "role": session.role,
            "knocked_at": session.created_at,
            "expires_at": session.created_at + self._timeout(session),
        }

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        """The room's lobby; raises ForbiddenError unless the actor may admit."""
        actor.require_admit(self.admission.admit_policy(actor.project_id, actor.room))
        return [self.knock(s) for s in self.waiting(actor)]

    def announce(self, session: Session, kind: EventType, data: dict[str, Any]) -> None:
        """Publish a lobby event to the waiter and to the admitters."""
        self.admission.publish(session, kind, data, _waiter_and_admitters(session))

    async def admit(self, actor: Actor, session_id: str) -> Session:
        """Admit a knock: the waiter hears ``lobby_admitted`` (with its platform token, if the
        room hands one out), the room ``participant_joined``. A knock held by another node is
        decided by that node.

        Raises ForbiddenError, NotInRoomError, AlreadyDecidedError (409), RoomFullError,
        AdmissionUnavailableError.
        """
        waiter = self._undecided(actor, session_id)
        self.admission.check_capacity(waiter.project_id, waiter.room, waiter.identity)
        if waiter.node is not None:
            await self.admission.route(waiter, "admit", {"by": actor.label})
        else:
            await self.decide_admit(waiter, actor.label)
        return waiter

    async def decide_admit(self, waiter: Session, by: str) -> None:
        """Admit a knock of this node (see :meth:`admit`)."""
        admission = self.admission
        self._still_waiting(waiter)
        admission.check_capacity(waiter.project_id, waiter.room, waiter.identity)
        rules = admission.rules(waiter.project_id, waiter.room)
        platform = None
        if rules.platform_token is not None:
            platform = await admission.issuing.platform(waiter, rules.platform_token)
        self._still_waiting(waiter)  # the first decision wins, also across that await
        admission.admitted(waiter, platform)
        decided = {"session_id": waiter.id, "identity": waiter.identity, "by": by}
        own = {**decided, "participant_token": platform.token if platform else None}
        admission.publish(waiter, EventType.LOBBY_ADMITTED, own, only(waiter.id))
        admission.publish(waiter, EventType.LOBBY_ADMITTED, decided, Audience(admitters=True))

    async def reject(self, actor: Actor, session_id: str, reason: str | None = None) -> Session:
        """Reject a knock; raises ForbiddenError, NotInRoomError, AlreadyDecidedError (409),
        AdmissionUnavailableError."""
        waiter = self._undecided(actor, session_id)
        if waiter.node is not None:
            args = {"reason": reason or "rejected", "by": actor.label}
            await self.admission.route(waiter, "reject", args)
        else:
            self.decide_reject(waiter, reason or "rejected", actor.label)
        return waiter

    def decide_reject(self, waiter: Session, reason: str, by: str) -> None:
        """Reject a knock of this node; raises AlreadyDecidedError."""
        self._still_waiting(waiter)
        self._close(waiter, SessionStatus.REJECTED, reason, by)

    async def cancel(self, waiter: Session) -> Session:
        """The waiter withdraws its knock (on the node holding it); raises
        AlreadyDecidedError once it was decided, AdmissionUnavailableError."""
        if waiter.node is not None:
            self._still_waiting(waiter)
            await self.admission.route(waiter, "cancel", {})
            return waiter
        return self.withdraw(waiter)

    def withdraw(self, waiter: Session, reason: str = "cancelled") -> Session:
        """Withdraw a knock of this node; raises AlreadyDecidedError once it was decided."""
        self._still_waiting(waiter)
        self._close(waiter, SessionStatus.CANCELLED, reason, waiter.identity)
        return waiter

    def expire_due(self, now: float, sessions: Iterable[Session] | None = None) -> int:
        """Expire every knock (of ``sessions``, default all on this node) that waited longer
        than its room allows; how many."""
        pool = self.admission.registry.waiting() if sessions is None else sessions
        due = [
            s
            for s in pool
            if s.status is SessionStatus.WAITING
            and s.node is None  # another node's knock expires there
            and now - s.created_at >= self._timeout(s)
        ]
        for session in due:
            self._close(session, SessionStatus.EXPIRED, "expired", "server")
        return len(due)

    def _close(self, waiter: Session, status: SessionStatus, reason: str, by: str) -> None:
        rejected = status is SessionStatus.REJECTED
        kind = EventType.LOBBY_REJECTED if rejected else EventType.LOBBY_CANCELLED
        self.admission.end(waiter, status, reason)
        data = {"session_id": waiter.id, "identity": waiter.identity, "reason": reason, "by": by}
        self.announce(waiter, kind, data)

    def _undecided(self, actor: Actor, session_id: str) -> Session:
        actor.require_admit(self.admission.admit_policy(actor.project_id, actor.room))
        self.admission.require_up()
        waiter = self.admission.registry.get(session_id)
        if waiter is None or (waiter.project_id, waiter.room) != (actor.project_id, actor.room):
            raise NotInRoomError(f"no knock {session_id!r} in room {actor.room!r}")
        self.expire_due(self.admission.ctx.clock(), [waiter])
        self._still_waiting(waiter)
        return waiter

    def _still_waiting(self, waiter: Session) -> None:
        if waiter.status is not SessionStatus.WAITING:
            raise AlreadyDecidedError(
                f"the knock was already decided ({waiter.status.value})",
                status=waiter.status.value,
            )

    def _timeout(self, session: Session) -> int:
        return self.admission.rules(session.project_id, session.room).knock_timeout_s
