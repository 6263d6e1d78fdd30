"""Rooms: created with an id like ``abcd-efgh-ijkl`` or an idempotent custom id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from roomkey.claims import check_metadata, check_text
from roomkey.errors import (
    InvalidClaimValueError,
    RoomInactiveError,
    UnknownRoomError,
    WrongRoomError,
)
from roomkey.service.context import Context
from roomkey.service.ids import new_room_id
from roomkey.service.webhooks.events import WebhookEvent, on_room
from roomkey.store import NotFoundError, RoomRecord

MAX_PAGE = 200


class RoomService:
    """Create, read, list, validate, lock and deactivate rooms; resolve a token's room."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # rooms being created on first use, so that a crowd joining a new room at once
        # makes one database write, not one each
        self._first_use: dict[tuple[str, str], asyncio.Future[tuple[RoomRecord, bool]]] = {}
        # called with (project id, room) after a room is deactivated (admission ends its sessions)
        self.listeners: list[Callable[[str, RoomRecord], object]] = []

    async def create(
        self,
        project_id: str,
        *,
        custom_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        max_participants: int | None = None,
        locked: bool = False,
    ) -> tuple[RoomRecord, bool]:
        """A new room, or the existing one with that custom id; the flag says which."""
        self.ctx.project(project_id)
        custom = _check_custom_id(custom_id, "customRoomId")
        if custom is not None:
            self._refuse_foreign(project_id, custom)
        if max_participants is not None and max_participants < 1:
            raise InvalidClaimValueError(
                "max_participants must be at least 1", field="max_participants"
            )
        record = RoomRecord(
            id=new_room_id(),
            project_id=project_id,
            created_at=self.ctx.now(),
            custom_id=custom,
            metadata=check_metadata(metadata) or {},
            max_participants=max_participants,
            locked=locked,
        )
        events = on_room(WebhookEvent.ROOM_CREATED, record.created_at)
        async with self.ctx.write_lock:  # see WriteLock
            stored, created = await self.ctx.store.create_room(record, events=events)
            self.ctx.state.put_room(stored)
        if created:
            self.ctx.events_written()
        return stored, created

    async def get(self, project_id: str, room_id: str) -> RoomRecord:
        """A room by id or custom id; raises NotFoundError."""
        project = self.ctx.project(project_id)
        room = project.room(room_id) or await self.ctx.store.get_room(project_id, room_id)
        if room is None:
            raise NotFoundError(f"room {room_id!r} does not exist", resource="room")
        self.ctx.state.put_room(room)
        return room

    async def validate(self, project_id: str, room_id: str) -> RoomRecord:
        """The room if it exists and is active; raises NotFoundError, RoomInactiveError."""
        room = await self.get(project_id, room_id)
        check_room_usable(room, room_id)
        return room

    async def list_rooms(
        self, project_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[RoomRecord], str | None]:
        """A page of rooms and the cursor of the next page."""
        self.ctx.project(project_id)
        limit = max(1, min(limit, MAX_PAGE))
        return await self.ctx.store.list_rooms(project_id, limit=limit, cursor=cursor)

    async def deactivate(self, project_id: str, room_id: str) -> RoomRecord:
        """Deactivate a room: tokens for it are refused from now on."""
        room = await self.get(project_id, room_id)
        now = self.ctx.now()
        events = on_room(WebhookEvent.ROOM_DEACTIVATED, now)
        async with self.ctx.write_lock:
            updated = await self.ctx.store.deactivate_room(
                project_id, room.id, now=now, events=events
            )
            self.ctx.state.put_room(updated)
        self.ctx.events_written()
        for listener in self.listeners:
            listener(project_id, updated)
        return updated

    async def set_locked(self, project_id: str, room_id: str, locked: bool) -> RoomRecord:
        """Lock or unlock a room (persisted, idempotent); the room as stored.

        A locked room holds everyone who joins in the lobby, unless they may admit others.
        Raises NotFoundError (no such room).
        """
        room = await self.get(project_id, room_id)
        async with self.ctx.write_lock:  # not swapped away by a concurrent reload
            updated = await self.ctx.store.set_room_locked(project_id, room.id, locked)
            self.ctx.state.put_room(updated)
        return updated

    def _refuse_foreign(self, project_id: str, name: str) -> None:
        _refuse_foreign_room(self.ctx.state.room_owner.get(name), project_id, name)

    async def resolve_for_issue(self, project_id: str, name: str) -> RoomRecord:
        """The room a token is being issued for, created on first use if the project allows.

        Raises InvalidClaimValueError naming the field ``room`` for a name no room can have,
        and the errors of :func:`check_room_usable`.
        """
        project = self.ctx.project(project_id)
        check_text(name, "room")  # the token's field, not the customRoomId it may create
        self._refuse_foreign(project_id, name)
        room = project.room(name)
        if room is None and project.record.settings.auto_create_rooms:
            _check_custom_id(name, "room")
            room = await self._create_on_first_use(project_id, name)
        check_room_usable(room, name)
        assert room is not None
        return room

    async def _create_on_first_use(self, project_id: str, name: str) -> RoomRecord:
        """Create the room ``name``; concurrent callers for the same room share one write."""
        key = (project_id, name)
        pending = self._first_use.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self.create(project_id, custom_id=name))
            self._first_use[key] = pending
            pending.add_done_callback(lambda done: self._forget_first_use(key, done))
        # shielded: a caller that goes away does not cancel the creation the others wait for
        room, _ = await asyncio.shield(pending)
        return room

    def _forget_first_use(self, key: tuple[str, str], done: asyncio.Future[Any]) -> None:
        self._first_use.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here: every waiter may have gone

    def check_for_verify(self, project_id: str, name: str | None) -> None:
        """Refuse a token whose room is deactivated, or unknown where rooms aren't auto-created.

        Reads memory only (the verify hot path never queries the database).
        """
        if name is None:
            return
        project = self.ctx.project(project_id)
        self._refuse_foreign(project_id, name)
        room = project.room(name)
        if room is None and project.record.settings.auto_create_rooms:
            return
        check_room_usable(room, name)


def _check_custom_id(value: str | None, field: str) -> str | None:
    """A room's custom id (``field`` names where it came from), or None when absent."""
    custom = check_text(value, field)
    if custom is not None and "/" in custom:
        raise InvalidClaimValueError(
            f"{field} cannot contain '/' (a room's id must be addressable in a URL path)",
            field=field,
        )
    return custom


def _refuse_foreign_room(owner: str | None, project_id: str, name: str) -> None:
    if owner is not None and owner != project_id:
        raise WrongRoomError(
            f"room {name!r} belongs to another project; use a key of the project that created it",
            room=name,
        )


def check_room_usable(room: RoomRecord | None, name: str) -> None:
    """Raise the right error for a missing or deactivated room."""
    if room is None:
        raise UnknownRoomError(
            f"room {name!r} does not exist and this project does not create rooms on use",
            room=name,
        )
    if not room.active:
        raise RoomInactiveError(f"room {name!r} has been deactivated", room=name)
