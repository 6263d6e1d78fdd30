"""Bans of an identity from a room: one live ban per project, room and identity; lifted ones
stay as history."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import insert, select, update

from roomkey.store._base import SqlBase
from roomkey.store._codec import from_row, to_row
from roomkey.store.errors import NotFoundError
from roomkey.store.records import BAN_REF_SEPARATOR, BanRecord, EventsFor
from roomkey.store.schema import bans


class Bans(SqlBase):
    """Ban operations of :class:`~roomkey.store.protocol.Store`."""

    async def add_ban(
        self, ban: BanRecord, *, events: EventsFor[BanRecord] | None = None
    ) -> BanRecord:
        """Insert a live ban (and its ``events`` in the outbox).

        Raises:
            NotFoundError: the project does not exist.
            ConflictError: the identity is already banned from the room (or the id is taken).
            StoreError: any other database failure.
        """
        async with self._write("add ban") as conn:
            await self._require_project(conn, ban.project_id)
            await conn.execute(insert(bans).values(**to_row(ban)))
            await self._changed(conn, "ban", ban.project_id, ban_ref(ban.room, ban.identity))
            if events is not None:
                await self._emit(conn, events(ban))
        return ban

    async def lift_ban(self, project_id: str, room: str, identity: str, *, now: int) -> BanRecord:
        """Lift the live ban of ``identity`` from ``room``; the lifted record.

        Raises:
            NotFoundError: no live ban of this identity from this room.
            StoreError: any other database failure.
        """
        live = _live(project_id, room, identity)
        async with self._write("lift ban") as conn:
            row = await self._one(conn, select(bans).where(*live))
            if row is None:
                raise NotFoundError("no such ban", room=room, identity=identity)
            await conn.execute(update(bans).where(bans.c.id == row.id).values(lifted_at=now))
            await self._changed(conn, "ban", project_id, ban_ref(room, identity))
        return dataclasses.replace(from_row(BanRecord, row), lifted_at=now)

    async def get_ban(self, project_id: str, room: str, identity: str) -> BanRecord | None:
        """The live ban of ``identity`` from ``room``, or None. Raises StoreError."""
        async with self._read("read ban") as conn:
            row = await self._one(conn, select(bans).where(*_live(project_id, room, identity)))
        return None if row is None else from_row(BanRecord, row)

    async def list_bans(
        self, project_id: str, *, room: str | None = None, include_lifted: bool = False
    ) -> list[BanRecord]:
        """A project's bans (of one room, if named), oldest first. Raises StoreError."""
        query = select(bans).where(bans.c.project_id == project_id)
        if room is not None:
            query = query.where(bans.c.room == room)
        if not include_lifted:
            query = query.where(bans.c.lifted_at.is_(None))
        return await self._bans(query)

    async def list_all_live_bans(self) -> list[BanRecord]:
        """The live bans of every project, oldest first (loaded into memory). Raises StoreError."""
        return await self._bans(select(bans).where(bans.c.lifted_at.is_(None)))

    async def _bans(self, query: Any) -> list[BanRecord]:
        query = query.order_by(bans.c.created_at, bans.c.id)
        async with self._read("list bans") as conn:
            return [from_row(BanRecord, row) for row in (await conn.execute(query)).all()]


def ban_ref(room: str, identity: str) -> str:
    """The change feed's name for the ban of ``identity`` from ``room`` (see ChangeRecord)."""
    return f"{room}{BAN_REF_SEPARATOR}{identity}"


def _live(project_id: str, room: str, identity: str) -> tuple[Any, ...]:
    return (
        bans.c.project_id == project_id,
        bans.c.room == room,
        bans.c.identity == identity,
        bans.c.lifted_at.is_(None),
    )


__all__ = ["Bans", "ban_ref"]
