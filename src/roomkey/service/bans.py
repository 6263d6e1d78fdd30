"""Bans: an identity refused admission to a room, and new tokens for it, until the ban is lifted.

A ban is persisted before the call returns and held in memory (``ProjectState.bans``, rebuilt at
every reload), so :meth:`BanService.is_banned` never queries the database. It is stored under the
room's id: a ban made with a room's custom id holds for its id too, and the other way round.

Banning also revokes the identity's tokens for the room (an identity+room revocation per name of
the room), so the tokens it already holds stop verifying. Lifting a ban does not lift those
revocations unless asked (``lift_revocations=True``): the tokens handed out before the ban stay
refused, and the participant needs a fresh one. Banning is idempotent: banning an identity
already banned keeps the first ban (and its reason) and revokes again, which also covers tokens
signed since (outside roomkey, with the project's key).
"""

from __future__ import annotations

import builtins

from roomkey.claims import check_text
from roomkey.service.context import Context
from roomkey.service.ids import new_id
from roomkey.service.revocations import RevocationService
from roomkey.service.rooms import RoomService
from roomkey.service.webhooks.events import on_ban
from roomkey.store import BanRecord, ConflictError, NotFoundError, RoomRecord

MAX_REASON = 200


class BanService:
    """Ban an identity from a room, lift a ban, list bans, and tell whether one holds."""

    def __init__(self, ctx: Context, rooms: RoomService, revocations: RevocationService) -> None:
        self.ctx, self.rooms, self.revocations = ctx, rooms, revocations

    async def ban(
        self, project_id: str, room: str, identity: str, *, reason: str = "", by: str = ""
    ) -> BanRecord:
        """Ban ``identity`` from ``room`` (id or custom id) and revoke its tokens for the room.

        Returns the live ban (the existing one if the identity was already banned).

        Raises:
            NotFoundError: no such project or room.
            InvalidClaimValueError: the identity is empty or not a short printable string.
            StoreError: the database failed (a ban that was stored still holds; banning again
                completes the revocation).
        """
        target = await self.rooms.get(project_id, room)
        who = check_text(identity, "identity", required=True)
        assert who is not None
        record = BanRecord(
            id=new_id("ban"),
            project_id=project_id,
            room=target.id,
            identity=who,
            created_at=self.ctx.now(),
            reason=(reason or "")[:MAX_REASON],
            created_by=(by or "")[:MAX_REASON],
        )
        stored = await self._store_ban(record)
        for name in _names(target):
            await self.revocations.revoke(
                project_id, identity=who, room=name, reason=_revocation_reason(stored)
            )
        return stored

    async def lift(
        self, project_id: str, room: str, identity: str, *, lift_revocations: bool = False
    ) -> BanRecord:
        """Lift the ban of ``identity`` from ``room``; the lifted record.

        The revocations the ban made stay unless ``lift_revocations`` (see the module docstring).

        Raises:
            NotFoundError: no such project or room, or the identity is not banned from it.
            StoreError: the database failed.
        """
        target = await self.rooms.get(project_id, room)
        async with self.ctx.write_lock:
            try:
                lifted = await self.ctx.store.lift_ban(
                    project_id, target.id, identity, now=self.ctx.now()
                )
            except NotFoundError:
                raise NotFoundError(
                    f"{identity!r} is not banned from room {room!r}",
                    resource="ban",
                    room=room,
                    identity=identity,
                ) from None
            self.ctx.project(project_id).bans.pop((target.id, identity), None)
        if lift_revocations:
            await self._lift_revocations(project_id, target, identity)
        return lifted

    def is_banned(self, project_id: str, room: str, identity: str) -> bool:
        """Whether ``identity`` is banned from ``room`` (id or custom id). Memory only."""
        project = self.ctx.state.projects.get(project_id)
        return project is not None and project.ban_of(room, identity) is not None

    async def list(self, project_id: str, room: str | None = None) -> builtins.list[BanRecord]:
        """The live bans of a project, or of one room, oldest first.

        Raises NotFoundError (no such project or room), StoreError.
        """
        self.ctx.project(project_id)
        room_id = None if room is None else (await self.rooms.get(project_id, room)).id
        return await self.ctx.store.list_bans(project_id, room=room_id)

    async def _store_ban(self, record: BanRecord) -> BanRecord:
        key = (record.room, record.identity)
        async with self.ctx.write_lock:  # not swapped away by a concurrent reload
            project = self.ctx.project(record.project_id)
            existing = project.bans.get(key)
            if existing is not None:
                return existing
            try:
                events = on_ban(record.created_at)
                stored = await self.ctx.store.add_ban(record, events=events)
            except ConflictError:  # banned meanwhile by another node
                found = await self.ctx.store.get_ban(record.project_id, *key)
                if found is None:
                    raise
                stored = found
            project.bans[key] = stored
        return stored

    async def _lift_revocations(self, project_id: str, room: RoomRecord, identity: str) -> None:
        names = set(_names(room))
        for rule in await self.revocations.list_revocations(project_id):
            if rule.kind == "identity" and rule.identity == identity and rule.room in names:
                await self.revocations.lift(project_id, rule.id)


def _names(room: RoomRecord) -> list[str]:
    """Every name a token may give the room: its id, and its custom id if it has one."""
    return [room.id] + ([room.custom_id] if room.custom_id else [])


def _revocation_reason(ban: BanRecord) -> str:
    return f"banned: {ban.reason}"[:MAX_REASON] if ban.reason else "banned"


__all__ = ["BanService"]
