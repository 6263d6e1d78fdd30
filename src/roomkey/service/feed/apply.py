"""Applying one change of the feed to a node's memory: read the one thing it names, file it.

Each change names a thing (a room, a revocation ...), not its new value: the applier reads the
thing's current row. Applying a change twice, or an older change after a newer one, therefore
leaves the newest state, and memory never goes back to an older one (changes are applied under
the context's write lock, which the services' own writes hold around their memory updates).

What a local write would have told the admission service (a new revocation, a room
deactivated) is returned as follow-ups, run once the lock is released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from roomkey.revocation import Revocation
from roomkey.service.context import Context
from roomkey.service.keys import KeyService
from roomkey.service.roles import role_from_record
from roomkey.service.state import ProjectState, to_rule
from roomkey.store import BAN_REF_SEPARATOR, ChangeRecord, RoomRecord

FollowUp = Callable[[], object]
RevocationListener = Callable[[str, Revocation], object]
RoomListener = Callable[[str, RoomRecord], object]


@dataclass
class ChangeApplier:
    """Files changes into ``ctx.state``; the listeners are those of the local writes."""

    ctx: Context
    keys: KeyService
    revocation_listeners: list[RevocationListener] = field(default_factory=list)
    room_listeners: list[RoomListener] = field(default_factory=list)

    async def apply(self, change: ChangeRecord) -> list[FollowUp]:
        """Read what ``change`` names and file it; the follow-ups to run after the lock.

        Raises StoreError when the database cannot be read (nothing is filed then).
        """
        if change.kind == "project":
            return await self._project(change.project_id)
        project = self.ctx.state.projects.get(change.project_id)
        if project is None:  # made before its project reached this node: read the project
            await self._project(change.project_id)
            project = self.ctx.state.projects.get(change.project_id)
            if project is None:
                return []  # the project is gone
        appliers = {
            "key": self._keys,
            "room": self._room,
            "role": self._role,
            "revocation": self._revocation,
            "ban": self._ban,
        }
        return await appliers[change.kind](project, change.ref)

    async def _project(self, project_id: str) -> list[FollowUp]:
        record = await self.ctx.store.get_project(project_id)
        if record is None:
            self.ctx.state.projects.pop(project_id, None)
            return []
        project = self.ctx.state.projects.get(project_id)
        if project is not None:
            project.record = record
            return []
        project = ProjectState(record)
        for role in await self.ctx.store.list_roles(project_id):
            project.roles[role.name] = role_from_record(role)
        self.ctx.state.projects[project_id] = project
        await self._keys(project, "")
        return []

    async def _keys(self, project: ProjectState, _kid: str) -> list[FollowUp]:
        # a rotation changes two keys: read the project's keys (a handful) and file them all
        records = await self.ctx.store.list_keys(project.record.id)
        now = self.ctx.now()
        current = {r.kid for r in records}
        for kid, record in list(self.ctx.state.keys.items()):
            if record.project_id == project.record.id and kid not in current:
                self.keys.unload(kid)
        for record in records:
            if record.expires_at is not None and record.expires_at <= now:
                self.keys.unload(record.kid)
            else:
                self.keys.load(record)
        return []

    async def _room(self, project: ProjectState, room_id: str) -> list[FollowUp]:
        room = await self.ctx.store.get_room(project.record.id, room_id)
        if room is None:
            return []
        before = project.rooms.get(room.id)
        self.ctx.state.put_room(room)
        if before is not None and before.active and not room.active:
            pid = project.record.id
            return [partial(listener, pid, room) for listener in self.room_listeners]
        return []

    async def _role(self, project: ProjectState, name: str) -> list[FollowUp]:
        record = await self.ctx.store.get_role(project.record.id, name)
        if record is None:
            project.roles.pop(name, None)
        else:
            project.roles[name] = role_from_record(record)
        return []

    async def _revocation(self, project: ProjectState, revocation_id: str) -> list[FollowUp]:
        record = await self.ctx.store.get_revocation(project.record.id, revocation_id)
        if record is None:  # purged: it covers no valid token any more
            return []
        rule = to_rule(record)
        if record.lifted_at is not None or record.expires_at <= self.ctx.now():
            project.revocations.lift(rule)
            return []
        if project.revocations.holds(rule):
            return []  # this node made it (or applied it already): its listeners ran
        project.revocations.add(rule)
        pid = project.record.id
        return [partial(listener, pid, rule) for listener in self.revocation_listeners]

    async def _ban(self, project: ProjectState, ref: str) -> list[FollowUp]:
        room, _, identity = ref.partition(BAN_REF_SEPARATOR)
        record = await self.ctx.store.get_ban(project.record.id, room, identity)
        if record is None:
            project.bans.pop((room, identity), None)
        else:
            project.bans[(room, identity)] = record
        return []
