"""A participant's session in a room: waiting in the lobby, admitted, or ended (and why)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

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
    # the node that owns it, when another node does (this node holds a mirror); None: this one
    node: str | None = None

    @property
    def live(self) -> bool:
        """True while the session waits or takes part."""
        return self.status.live

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _PUBLIC:
            # what others see changed: the cached public form is stale, and the registry
            # re-files the session (it indexes admitted sessions by status and grant, so that
            # a join of a room of thousands neither scans nor sorts it)
            self.__dict__.pop("_public", None)
            registry = self.__dict__.get("_registry")
            if registry is not None and name in _INDEXED:
                registry.reindex(self)

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
        """What other participants see of it (built once until one of its parts changes;
        callers must not change it)."""
        cached: tuple[dict[str, Any], bytes] | None = self.__dict__.get("_public")
        return cached[0] if cached is not None else self._build_public()[0]

    def public_json(self) -> bytes:
        """:meth:`public` as JSON, encoded once until one of its parts changes."""
        cached: tuple[dict[str, Any], bytes] | None = self.__dict__.get("_public")
        return cached[1] if cached is not None else self._build_public()[1]

    def _build_public(self) -> tuple[dict[str, Any], bytes]:
        public = {
            "session_id": self.id,
            "identity": self.identity,
            "name": self.name,
            "role": self.role,
            "grant": self.grant.to_dict(),
            "joined_at": self.joined_at,
            "muted": sorted(s.value for s in self.muted),
        }
        built = public, orjson.dumps(public)
        object.__setattr__(self, "_public", built)
        return built


_INDEXED = frozenset({"status", "grant"})
_PUBLIC = _INDEXED | {"name", "role", "joined_at", "muted"}  # the parts of ``public()``
RoomKey = tuple[str, str]  # (project id, room)


class SessionRegistry:
    """Every session this node knows, by id and by (project, room, identity), and each room's
    admitted sessions in the order they were admitted (kept up to date as a session's status
    or grant changes)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._by_room: dict[RoomKey, dict[str, Session]] = {}
        self._admitted: dict[RoomKey, dict[str, Session]] = {}
        self._hidden: dict[RoomKey, set[str]] = {}
        self._waiting: dict[str, Session] = {}  # every room's knocks (the sweep reads them)

    def add(self, session: Session) -> Session | None:
        """Register ``session``; returns the live session of the same identity it replaces."""
        room = self._by_room.setdefault((session.project_id, session.room), {})
        previous = room.pop(session.identity, None)  # popped: the room keeps joining order
        room[session.identity] = session
        self._by_id[session.id] = session
        object.__setattr__(session, "_registry", self)
        self.reindex(session)
        return previous if previous is not None and previous.live else None

    def reindex(self, session: Session) -> None:
        """Put ``session`` in (or take it out of) its room's admitted index."""
        key = (session.project_id, session.room)
        admitted = self._admitted.setdefault(key, {})
        hidden = self._hidden.setdefault(key, set())
        known = self._by_id.get(session.id) is session
        if session.status is SessionStatus.WAITING and known:
            self._waiting[session.id] = session
        else:
            self._waiting.pop(session.id, None)
        if session.status is SessionStatus.ADMITTED and known:
            admitted.setdefault(session.id, session)
            if session.grant.hidden:
                hidden.add(session.id)
            else:
                hidden.discard(session.id)
        else:
            admitted.pop(session.id, None)
            hidden.discard(session.id)

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

    def waiting(self) -> list[Session]:
        """Every knock waiting in a lobby on this node (not the mirrors of other nodes')."""
        return [s for s in self._waiting.values() if s.node is None]

    def admitted_rooms(self) -> list[tuple[RoomKey, list[Session]]]:
        """Each room with admitted sessions of this node, and those sessions (mirrors of
        other nodes' sessions are theirs to look after)."""
        rooms = [
            (key, [s for s in room.values() if s.node is None])
            for key, room in self._admitted.items()
        ]
        return [(key, sessions) for key, sessions in rooms if sessions]

    def admitted(self, project_id: str, room: str) -> Iterable[Session]:
        """The room's admitted sessions, in the order they were admitted."""
        return self._admitted.get((project_id, room), {}).values()

    def admitted_count(
        self,
        project_id: str,
        room: str,
        *,
        besides: str | None = None,
        hidden: bool = True,
    ) -> int:
        """How many sessions of a room are admitted (not counting identity ``besides``, nor
        hidden ones unless ``hidden``)."""
        key = (project_id, room)
        count = len(self._admitted.get(key, {}))
        if not hidden:
            count -= len(self._hidden.get(key, ()))
        other = self.of_identity(project_id, room, besides) if besides is not None else None
        if other is not None and other.id in self._admitted.get(key, {}):
            count -= 1 if hidden or not other.grant.hidden else 0
        return count

    def forget(self, session: Session) -> None:
        """Drop an ended session (its credential stops working)."""
        self._by_id.pop(session.id, None)
        room = self._by_room.get((session.project_id, session.room), {})
        if room.get(session.identity) is session:
            del room[session.identity]
        self.reindex(session)

    def live(self) -> list[Session]:
        """Every live session on this node."""
        return [s for s in self._by_id.values() if s.live]

    def live_count(self) -> int:
        """Live sessions owned by this node."""
        return sum(1 for s in self._by_id.values() if s.live and s.node is None)

    def waiting_count(self) -> int:
        """Sessions waiting in a lobby, owned by this node."""
        return sum(1 for s in self._waiting.values() if s.node is None)

    def mirrored_count(self) -> int:
        """Live sessions of other nodes mirrored here."""
        return sum(1 for s in self._by_id.values() if s.live and s.node is not None)


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
