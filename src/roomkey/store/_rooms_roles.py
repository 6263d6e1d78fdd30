"""Rooms (idempotent custom ids, keyset pagination, locks) and custom roles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from roomkey.store._base import SqlBase, clamp_limit
from roomkey.store._codec import decode_cursor, encode_cursor, from_row, to_row
from roomkey.store._conn import WriteConnection
from roomkey.store.errors import ConflictError, NotFoundError
from roomkey.store.records import EventsFor, RoleRecord, RoomRecord
from roomkey.store.schema import roles, rooms

# built once (see _base): the values come as parameters
_INSERT_ROOM = insert(rooms)
_ROOM_BY_CUSTOM_ID = select(rooms).where(
    rooms.c.project_id == bindparam("project_id"), rooms.c.custom_id == bindparam("custom_id")
)


class RoomsAndRoles(SqlBase):
    """Room and role operations of :class:`~roomkey.store.protocol.Store`."""

    async def create_room(
        self, room: RoomRecord, *, events: EventsFor[RoomRecord] | None = None
    ) -> tuple[RoomRecord, bool]:
        """Insert a room; with a ``custom_id`` already used in the project, return that room.

        Returns ``(room, created)``; ``events`` go to the outbox only when it was created. Safe
        under concurrent creates with the same custom id: the
        unique constraint picks one winner and the others read the winner's row.

        Raises:
            NotFoundError: the project does not exist.
            ConflictError: the room id is taken (without a custom id to fall back on).
            StoreError: any other database failure.
        """
        try:
            # the custom id is looked up in the write's own transaction: on a SQLite file that
            # is one pause-free transaction on the loop's thread (see _loop_writer), where a
            # read beforehand would be a pooled connection's thread hops, each waiting for
            # the busy loop (measured under mixed load: 89 ms median for that read alone)
            async with self._write("create room") as conn:
                if room.custom_id is not None:
                    existing = await self._room_by_custom_id(conn, room.project_id, room.custom_id)
                    if existing is not None:
                        raise _Exists(existing)  # nothing written: rolled back
                await self._require_project(conn, room.project_id)
                await conn.execute(_INSERT_ROOM, to_row(room))
                await self._changed(conn, "room", room.project_id, room.id)
                if events is not None:
                    await self._emit(conn, events(room))
        except _Exists as exists:
            return exists.room, False
        except ConflictError:
            if room.custom_id is None:
                raise
            async with self._read("read room") as read:
                existing = await self._room_by_custom_id(read, room.project_id, room.custom_id)
            if existing is None:
                raise
            return existing, False
        return room, True

    async def get_room(self, project_id: str, id_or_custom_id: str) -> RoomRecord | None:
        """The room with this id, else the one with this custom id, else None. Raises StoreError."""
        query = select(rooms).where(
            rooms.c.project_id == project_id,
            or_(rooms.c.id == id_or_custom_id, rooms.c.custom_id == id_or_custom_id),
        )
        async with self._read("read room") as conn:
            found = [from_row(RoomRecord, row) for row in (await conn.execute(query)).all()]
        # an id match wins over another room whose custom id happens to equal it
        found.sort(key=lambda r: r.id != id_or_custom_id)
        return found[0] if found else None

    async def list_rooms(
        self, project_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[RoomRecord], str | None]:
        """A page of a project's rooms, newest first, and the cursor of the next page (or None).

        Raises:
            InvalidCursorError: ``cursor`` was not returned by this method.
            StoreError: any other database failure.
        """
        limit = clamp_limit(limit)
        query = select(rooms).where(rooms.c.project_id == project_id)
        if cursor is not None:
            created_at, room_id = decode_cursor(cursor, int, str)
            query = query.where(
                or_(
                    rooms.c.created_at < created_at,
                    and_(rooms.c.created_at == created_at, rooms.c.id < room_id),
                )
            )
        query = query.order_by(rooms.c.created_at.desc(), rooms.c.id.desc()).limit(limit + 1)
        async with self._read("list rooms") as conn:
            page = [from_row(RoomRecord, row) for row in (await conn.execute(query)).all()]
        if len(page) <= limit:
            return page, None
        last = page[limit - 1]
        return page[:limit], encode_cursor(last.created_at, last.id)

    async def list_all_rooms(self, *, active_only: bool = False) -> list[RoomRecord]:
        """Rooms of every project, oldest first (for warming caches). Raises StoreError."""
        query = select(rooms).order_by(rooms.c.created_at, rooms.c.id)
        if active_only:
            query = query.where(rooms.c.active.is_(True))
        async with self._read("list rooms") as conn:
            return [from_row(RoomRecord, row) for row in (await conn.execute(query)).all()]

    async def deactivate_room(
        self,
        project_id: str,
        room_id: str,
        *,
        now: int,
        events: EventsFor[RoomRecord] | None = None,
    ) -> RoomRecord:
        """Mark a room inactive (idempotent: an inactive room keeps its first deactivation time;
        ``events`` only when this call deactivated it).

        Raises:
            NotFoundError: no room with this id in the project.
            StoreError: any other database failure.
        """
        where = (rooms.c.project_id == project_id, rooms.c.id == room_id)
        async with self._write("deactivate room") as conn:
            result = await conn.execute(
                update(rooms)
                .where(*where, rooms.c.active.is_(True))
                .values(active=False, deactivated_at=now)
            )
            row = await self._one(conn, select(rooms).where(*where))
            if row is not None and result.rowcount:
                await self._changed(conn, "room", project_id, room_id)
            if row is not None and result.rowcount and events is not None:
                await self._emit(conn, events(from_row(RoomRecord, row)))
        if row is None:
            raise NotFoundError("no such room", project_id=project_id, room_id=room_id)
        return from_row(RoomRecord, row)

    async def set_room_locked(self, project_id: str, room_id: str, locked: bool) -> RoomRecord:
        """Lock or unlock a room (idempotent); the room as stored.

        Raises:
            NotFoundError: no room with this id in the project.
            StoreError: any other database failure.
        """
        where = (rooms.c.project_id == project_id, rooms.c.id == room_id)
        async with self._write("lock room" if locked else "unlock room") as conn:
            await conn.execute(update(rooms).where(*where).values(locked=locked))
            row = await self._one(conn, select(rooms).where(*where))
            if row is not None:
                await self._changed(conn, "room", project_id, room_id)
        if row is None:
            raise NotFoundError("no such room", project_id=project_id, room_id=room_id)
        return from_row(RoomRecord, row)

    async def upsert_role(self, role: RoleRecord) -> RoleRecord:
        """Create a role or replace its permissions (keeping its ``created_at``).

        Raises:
            NotFoundError: the project does not exist.
            StoreError: any other database failure.
        """
        async with self._write("save role") as conn:
            await self._require_project(conn, role.project_id)
            await conn.execute(_upsert_role(conn, role))
            saved = await self._role(conn, role.project_id, role.name)
            await self._changed(conn, "role", role.project_id, role.name)
        assert saved is not None  # written in this transaction
        return saved

    async def get_role(self, project_id: str, name: str) -> RoleRecord | None:
        """The role, or None. Raises StoreError on failure."""
        async with self._read("read role") as conn:
            return await self._role(conn, project_id, name)

    async def list_roles(self, project_id: str) -> list[RoleRecord]:
        """A project's custom roles by name. Raises StoreError on failure."""
        query = select(roles).where(roles.c.project_id == project_id).order_by(roles.c.name)
        async with self._read("list roles") as conn:
            return [from_row(RoleRecord, row) for row in (await conn.execute(query)).all()]

    async def delete_role(self, project_id: str, name: str) -> None:
        """Delete a custom role. Raises NotFoundError, StoreError."""
        query = delete(roles).where(roles.c.project_id == project_id, roles.c.name == name)
        async with self._write("delete role") as conn:
            if (await conn.execute(query)).rowcount == 0:
                raise NotFoundError("no such role", project_id=project_id, role=name)
            await self._changed(conn, "role", project_id, name)

    async def _room_by_custom_id(
        self, conn: WriteConnection, project_id: str, custom_id: str
    ) -> RoomRecord | None:
        found = await conn.execute(
            _ROOM_BY_CUSTOM_ID, {"project_id": project_id, "custom_id": custom_id}
        )
        row = found.first()
        return None if row is None else from_row(RoomRecord, row)

    async def _role(self, conn: WriteConnection, project_id: str, name: str) -> RoleRecord | None:
        query = select(roles).where(roles.c.project_id == project_id, roles.c.name == name)
        row = await self._one(conn, query)
        return None if row is None else from_row(RoleRecord, row)


class _Exists(Exception):  # control flow inside the store, never raised out of it
    """Ends a room creation's transaction without writing: the custom id is taken."""

    def __init__(self, room: RoomRecord) -> None:
        super().__init__(room.id)
        self.room = room


def _upsert_role(conn: WriteConnection, role: RoleRecord) -> Insert:
    # both dialects spell INSERT ... ON CONFLICT the same way; only the import differs
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(roles).values(**to_row(role))
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[roles.c.project_id, roles.c.name],
        set_={"permissions": stmt.excluded.permissions, "updated_at": stmt.excluded.updated_at},
    )
