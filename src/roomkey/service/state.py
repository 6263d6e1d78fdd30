"""What a node holds in memory: keys, projects, rooms, roles, revocations and bans.

The verify hot path reads only this. The service updates it after every durable change, and a
periodic refresh reloads it from the store so that changes made on other nodes arrive too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from roomkey._gc import paused_gc
from roomkey.claims import Claims
from roomkey.keys import KeyRing
from roomkey.revocation import InMemoryRevocations, Revocation
from roomkey.roles import CustomRole
from roomkey.store import (
    ActiveRevocations,
    BanRecord,
    KeyRecord,
    ProjectRecord,
    RevocationRecord,
    RoomRecord,
)


@dataclass
class ProjectState:
    """One project's rooms, roles, revocations and live bans."""

    record: ProjectRecord
    revocations: InMemoryRevocations = field(default_factory=InMemoryRevocations)
    roles: dict[str, CustomRole] = field(default_factory=dict)
    rooms: dict[str, RoomRecord] = field(default_factory=dict)  # by id and by custom id
    # live bans by (room id, identity): a ban made under either name of a room holds for both
    bans: dict[tuple[str, str], BanRecord] = field(default_factory=dict)

    def room(self, id_or_custom: str) -> RoomRecord | None:
        """A room by its id or custom id (exact match, never normalised)."""
        return self.rooms.get(id_or_custom)

    def room_id(self, id_or_custom: str) -> str:
        """The id of the room named ``id_or_custom`` (the name itself for an unknown room)."""
        room = self.rooms.get(id_or_custom)
        return room.id if room is not None else id_or_custom

    def ban_of(self, room: str, identity: str) -> BanRecord | None:
        """The live ban of ``identity`` from the room named ``room`` (id or custom id), or None."""
        return self.bans.get((self.room_id(room), identity))

    def put_room(self, room: RoomRecord) -> None:
        """Index a room under its id and its custom id."""
        self.rooms[room.id] = room
        if room.custom_id:
            self.rooms[room.custom_id] = room


@dataclass
class ServerState:
    """Everything the verifier and the minters need, indexed for O(1) lookups."""

    keyring: KeyRing = field(default_factory=KeyRing)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    projects: dict[str, ProjectState] = field(default_factory=dict)
    # room id → owning project, to refuse a room of one project in another's token
    room_owner: dict[str, str] = field(default_factory=dict)

    def project_of_key(self, kid: str) -> ProjectState | None:
        """The project a key belongs to."""
        record = self.keys.get(kid)
        return self.projects.get(record.project_id) if record else None

    def put_room(self, room: RoomRecord) -> None:
        """Index a room in its project and in the global owner table."""
        project = self.projects.get(room.project_id)
        if project is not None:
            project.put_room(room)
            self.room_owner[room.id] = room.project_id

    def check_revoked(self, claims: Claims, kid: str) -> Revocation | None:
        """The revocation checker handed to the verifier: routes by the signing key's project."""
        project = self.project_of_key(kid)
        return project.revocations(claims, kid) if project else None


def load_revocations(
    projects: Mapping[str, ProjectState], loaded: Mapping[str, ActiveRevocations]
) -> None:
    """Load every project's stored rules (``Store.load_active_revocations``) in bulk; rules of
    projects not in ``projects`` are left out. Raises ValueError on a malformed rule."""
    with paused_gc():  # every rule loaded lives on (see roomkey._gc)
        for project_id, active in loaded.items():
            if project_id in projects:
                projects[project_id].revocations.load(active.jtis, active.jti_rules, active.others)


def to_rule(record: RevocationRecord) -> Revocation:
    """A stored revocation as an in-memory rule."""
    value: str | float
    if record.kind == "jti":
        value = record.jti or ""
    elif record.kind == "identity":
        value = record.identity or ""
    elif record.kind == "room":
        value = record.room or ""
    elif record.kind == "key":
        value = record.kid or ""
    else:
        value = float(record.issued_before or 0)
    return Revocation(
        kind=record.kind,
        value=value,
        revoked_at=float(record.created_at),
        room=record.room if record.kind == "identity" else None,
        expires_at=float(record.expires_at),
        reason=record.reason or None,
        id=record.id,
    )
