"""A participant's session in a room: waiting in the lobby, admitted, or ended (and why)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from roomkey.grants import Grant, Source
from roomkey.service.admission.events import Event


class SessionStatus(StrEnum):
    """Where a session stands. Only ``waiting`` and ``admitted`` are live."""

    WAITING = "waiting"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a knock nobody answered in time
    LEFT = "left"
    REMOVED = "removed"
    REPLACED = "replaced"  # the same identity joined again

    @property
    def live(self) -> bool:
        """True while the session waits or takes part."""
        return self in (SessionStatus.WAITING, SessionStatus.ADMITTED)


@dataclass(eq=False)
class Session:
    """One join of one identity in one room of one project (mutable: it lives and ends)."""

    id: str
    project_id: str
    room: str
    identity: str
    grant: Grant
    dialect: str
    status: SessionStatus
    created_at: float
    # the participant token it joined with (checked once, here: the seed's rule)
    token_jti: str | None = None
    token_kid: str = ""
    token_issued_at: int | None = None
    token_expires_at: int | None = None
    name: str | None = None
    role: str | None = None
    metadata: Any = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    joined_at: float | None = None
    ended_at: float | None = None
    # why it ended (``rejected``, ``banned``, ``revoked``, ``replaced``, ...), or a knock's note
    reason: str | None = None
    # sources a moderator muted; unmuting is the participant's own choice
    muted: frozenset[Source] = frozenset()
    # WebSockets attached now (a session with none for longer than the grace period ends)
    sockets: int = 0
    last_seen: float = 0.0

    @property
    def live(self) -> bool:
        """True while the session waits or takes part."""
        return self.status.live

    def may_admit(self, admit_policy: str = "direct") -> bool:
        """Whether this (admitted) session may admit or reject knocks.

        ``direct`` (the seed's rule): holders of ``join: direct``; ``moderators``: those who
        moderate; ``admins``: admins only.
        """
        if self.status is not SessionStatus.ADMITTED:
            return False
        if admit_policy == "admins":
            return self.grant.admin
        if admit_policy == "moderators":
            return self.grant.moderate
        return self.grant.join.value == "direct"

    def public(self) -> dict[str, Any]:
        """What other participants see of it."""
        return {
            "session_id": self.id,
            "identity": self.identity,
            "name": self.name,
            "role": self.role,
            "grant": self.grant.to_dict(),
            "joined_at": self.joined_at,
            "muted": sorted(s.value for s in self.muted),
        }


class SessionRegistry:
    """Every session this node knows, by id and by (project, room, identity)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._by_room: dict[tuple[str, str], dict[str, Session]] = {}

    def add(self, session: Session) -> Session | None:
        """Register ``session``; returns the live session of the same identity it replaces."""
        room = self._by_room.setdefault((session.project_id, session.room), {})
        previous = room.pop(session.identity, None)  # popped: the room keeps joining order
        room[session.identity] = session
        self._by_id[session.id] = session
        return previous if previous is not None and previous.live else None

    def get(self, session_id: str) -> Session | None:
        """A session by id (live or ended, until forgotten)."""
        return self._by_id.get(session_id)

    def of_identity(self, project_id: str, room: str, identity: str) -> Session | None:
        """The latest session of ``identity`` in the room."""
        return self._by_room.get((project_id, room), {}).get(identity)

    def in_room(self, project_id: str, room: str) -> list[Session]:
        """The live sessions of a room, admitted and waiting, in the order they were added
        (no sort: a join of a room of thousands reads it)."""
        return [s for s in self._by_room.get((project_id, room), {}).values() if s.live]

    def admitted_count(self, project_id: str, room: str, *, besides: str | None = None) -> int:
        """How many sessions of a room are admitted (``besides`` that identity's not counted)."""
        sessions = self._by_room.get((project_id, room), {}).values()
        admitted = SessionStatus.ADMITTED
        return sum(1 for s in sessions if s.status is admitted and s.identity != besides)

    def forget(self, session: Session) -> None:
        """Drop an ended session (its credential stops working)."""
        self._by_id.pop(session.id, None)
        room = self._by_room.get((session.project_id, session.room), {})
        if room.get(session.identity) is session:
            del room[session.identity]

    def live(self) -> list[Session]:
        """Every live session on this node."""
        return [s for s in self._by_id.values() if s.live]

    def live_count(self) -> int:
        """Live sessions on this node."""
        return sum(1 for s in self._by_id.values() if s.live)

    def waiting_count(self) -> int:
        """Sessions waiting in a lobby on this node."""
        return sum(1 for s in self._by_id.values() if s.status is SessionStatus.WAITING)


def accepts(session: Session, admit_policy: str = "direct") -> Callable[[Event], bool]:
    """Which events ``session``'s socket receives: its own always; while waiting, nothing else
    (a waiting participant sees only its own decision); once admitted, what its audience names
    (``admitters`` for those who may admit); hidden participants' comings and goings only for
    moderators."""

    def accept(event: Event) -> bool:
        audience = event.audience
        if session.id in audience.sessions:
            return True
        if session.status is not SessionStatus.ADMITTED:
            return False
        if event.data.get("hidden") and not session.grant.moderate:
            return False
        if audience.everyone:
            return True
        return audience.admitters and session.may_admit(admit_policy)

    return accept
