"""Projects and API/signing keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, insert, select, update

from roomkey.store._base import SqlBase
from roomkey.store._codec import from_row, to_row
from roomkey.store._conn import WriteConnection
from roomkey.store.errors import NotFoundError
from roomkey.store.records import (
    EventsFor,
    KeyRecord,
    KeyStatus,
    ProjectRecord,
    ProjectSettings,
)
from roomkey.store.schema import api_keys, projects


class ProjectsAndKeys(SqlBase):
    """Project and key operations of :class:`~roomkey.store.protocol.Store`."""

    async def create_project(self, project: ProjectRecord) -> ProjectRecord:
        """Insert a project. Raises ConflictError if the id exists, StoreError on failure."""
        async with self._write("create project") as conn:
            await conn.execute(insert(projects).values(**to_row(project)))
            await self._changed(conn, "project", project.id, project.id)
        return project

    async def get_project(self, project_id: str) -> ProjectRecord | None:
        """The project, or None. Raises StoreError on failure."""
        async with self._read("read project") as conn:
            row = await self._one(conn, select(projects).where(projects.c.id == project_id))
        return None if row is None else from_row(ProjectRecord, row)

    async def list_projects(self) -> list[ProjectRecord]:
        """Every project, oldest first. Raises StoreError on failure."""
        query = select(projects).order_by(projects.c.created_at, projects.c.id)
        async with self._read("list projects") as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(ProjectRecord, row) for row in rows]

    async def update_project_settings(
        self, project_id: str, settings: ProjectSettings
    ) -> ProjectRecord:
        """Replace a project's settings. Raises NotFoundError, StoreError."""
        query = update(projects).where(projects.c.id == project_id)
        async with self._write("update project") as conn:
            result = await conn.execute(query.values(settings=settings.to_json()))
            if result.rowcount == 0:
                raise NotFoundError("no such project", project_id=project_id)
            row = await self._one(conn, select(projects).where(projects.c.id == project_id))
            await self._changed(conn, "project", project_id, project_id)
        return from_row(ProjectRecord, row)

    async def create_key(
        self, key: KeyRecord, *, events: EventsFor[KeyRecord] | None = None
    ) -> KeyRecord:
        """Insert a key (and its ``events`` in the outbox).

        Raises NotFoundError (no project), ConflictError (kid taken), StoreError.
        """
        async with self._write("create key") as conn:
            await self._require_project(conn, key.project_id)
            await conn.execute(insert(api_keys).values(**to_row(key)))
            await self._changed(conn, "key", key.project_id, key.kid)
            if events is not None:
                await self._emit(conn, events(key))
        return key

    async def rotate_key(
        self,
        new_key: KeyRecord,
        *,
        old_expires_at: int | None,
        events: EventsFor[KeyRecord] | None = None,
    ) -> KeyRecord:
        """Insert ``new_key`` and set the expiry of ``new_key.rotated_from`` in one transaction
        (with ``events``, called with the new key, in the outbox).

        Raises:
            NotFoundError: ``rotated_from`` is unset or names no key of the same project.
            ConflictError: the new kid is taken.
            StoreError: any other database failure.
        """
        old_kid = new_key.rotated_from
        async with self._write("rotate key") as conn:
            old = None if old_kid is None else await self._key(conn, old_kid)
            if old is None or old.project_id != new_key.project_id:
                raise NotFoundError("no such key to rotate from", kid=old_kid)
            await conn.execute(insert(api_keys).values(**to_row(new_key)))
            await conn.execute(
                update(api_keys).where(api_keys.c.kid == old.kid).values(expires_at=old_expires_at)
            )
            await self._changed(conn, "key", new_key.project_id, new_key.kid)
            if events is not None:
                await self._emit(conn, events(new_key))
        return new_key

    async def get_key(self, kid: str) -> KeyRecord | None:
        """The key, or None. Raises StoreError on failure."""
        async with self._read("read key") as conn:
            return await self._key(conn, kid)

    async def list_keys(self, project_id: str) -> list[KeyRecord]:
        """A project's keys, oldest first. Raises StoreError on failure."""
        query = select(api_keys).where(api_keys.c.project_id == project_id)
        return await self._keys(query.order_by(api_keys.c.created_at, api_keys.c.kid))

    async def list_all_active_keys(self, *, now: int | None = None) -> list[KeyRecord]:
        """Active keys of every project; with ``now``, only those not expired by then.

        Raises:
            StoreError: on failure.
        """
        query = select(api_keys).where(api_keys.c.status == "active")
        if now is not None:
            query = query.where((api_keys.c.expires_at.is_(None)) | (api_keys.c.expires_at > now))
        return await self._keys(query.order_by(api_keys.c.created_at, api_keys.c.kid))

    async def update_key_status(
        self,
        kid: str,
        status: KeyStatus,
        *,
        now: int,
        events: EventsFor[KeyRecord] | None = None,
    ) -> KeyRecord:
        """Enable or disable a key (``disabled_at`` = ``now`` or cleared); ``events`` only
        when the status changed. Raises NotFoundError."""
        disabled_at = now if status == "disabled" else None
        async with self._write("update key") as conn:
            before = await self._key(conn, kid)
            if before is None:
                raise NotFoundError("no such key", kid=kid)
            query = update(api_keys).where(api_keys.c.kid == kid)
            await conn.execute(query.values(status=status, disabled_at=disabled_at))
            key = await self._key(conn, kid)
            assert key is not None
            await self._changed(conn, "key", key.project_id, kid)
            if events is not None and before.status != status:
                await self._emit(conn, events(key))
        return key

    async def set_key_expiry(self, kid: str, expires_at: int | None) -> KeyRecord:
        """Set or clear a key's expiry. Raises NotFoundError, StoreError."""
        return await self._update_key(kid, expires_at=expires_at)

    async def delete_key(self, kid: str) -> None:
        """Delete a key. Raises NotFoundError, StoreError."""
        async with self._write("delete key") as conn:
            key = await self._key(conn, kid)
            if key is None:
                raise NotFoundError("no such key", kid=kid)
            await conn.execute(delete(api_keys).where(api_keys.c.kid == kid))
            await self._changed(conn, "key", key.project_id, kid)

    async def _update_key(self, kid: str, **values: object) -> KeyRecord:
        async with self._write("update key") as conn:
            await conn.execute(update(api_keys).where(api_keys.c.kid == kid).values(**values))
            key = await self._key(conn, kid)
            if key is not None:
                await self._changed(conn, "key", key.project_id, kid)
        if key is None:
            raise NotFoundError("no such key", kid=kid)
        return key

    async def _key(self, conn: WriteConnection, kid: str) -> KeyRecord | None:
        row = await self._one(conn, select(api_keys).where(api_keys.c.kid == kid))
        return None if row is None else from_row(KeyRecord, row)

    async def _keys(self, query: Select[Any]) -> list[KeyRecord]:
        async with self._read("list keys") as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(KeyRecord, row) for row in rows]
