"""Revocations and the audit log of issued tokens."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update

from roomkey._gc import paused_gc
from roomkey.store._base import SqlBase, clamp_limit
from roomkey.store._bulk_revocations import _load_postgres, _load_sqlite
from roomkey.store._codec import decode_cursor, encode_cursor, from_row, to_row
from roomkey.store.errors import NotFoundError
from roomkey.store.records import (
    ActiveRevocations,
    AuditRecord,
    EventsFor,
    OutboxEvent,
    RevocationRecord,
)
from roomkey.store.schema import audit, revocations

# The revocation columns in RevocationRecord's field order (records are built positionally).
_REVOCATION_COLUMNS = [revocations.c[f.name] for f in dataclasses.fields(RevocationRecord)]
_INSERT_REVOCATION = insert(revocations)  # built once; the values come as parameters


class RevocationsAndAudit(SqlBase):
    """Revocation and audit operations of :class:`~roomkey.store.protocol.Store`."""

    async def add_revocation(
        self,
        revocation: RevocationRecord,
        *,
        events: EventsFor[RevocationRecord] | None = None,
    ) -> RevocationRecord:
        """Insert a revocation (and its ``events`` in the outbox).

        Raises NotFoundError (no project), ConflictError (id taken), StoreError.
        """
        async with self._write("add revocation") as conn:
            await self._require_project(conn, revocation.project_id)
            await conn.execute(_INSERT_REVOCATION, to_row(revocation))
            await self._changed(conn, "revocation", revocation.project_id, revocation.id)
            if events is not None:
                await self._emit(conn, events(revocation))
        return revocation

    async def lift_revocation(
        self,
        project_id: str,
        revocation_id: str,
        *,
        now: int,
        events: EventsFor[RevocationRecord] | None = None,
    ) -> RevocationRecord:
        """Lift a revocation (idempotent: a lifted one keeps its first ``lifted_at``;
        ``events`` only when this call lifted it).

        Raises:
            NotFoundError: no revocation with this id in the project.
            StoreError: any other database failure.
        """
        where = (revocations.c.project_id == project_id, revocations.c.id == revocation_id)
        async with self._write("lift revocation") as conn:
            result = await conn.execute(
                update(revocations)
                .where(*where, revocations.c.lifted_at.is_(None))
                .values(lifted_at=now)
            )
            row = await self._one(conn, select(*_REVOCATION_COLUMNS).where(*where))
            if row is not None and result.rowcount:
                await self._changed(conn, "revocation", project_id, revocation_id)
            if row is not None and result.rowcount and events is not None:
                await self._emit(conn, events(from_row(RevocationRecord, row)))
        if row is None:
            raise NotFoundError("no such revocation", revocation_id=revocation_id)
        return from_row(RevocationRecord, row)

    async def get_revocation(self, project_id: str, revocation_id: str) -> RevocationRecord | None:
        """The revocation (lifted or not), or None. Raises StoreError on failure."""
        query = select(*_REVOCATION_COLUMNS).where(
            revocations.c.project_id == project_id, revocations.c.id == revocation_id
        )
        found = await self._revocations(query)
        return found[0] if found else None

    async def list_revocations(
        self, project_id: str, *, include_lifted: bool = False
    ) -> list[RevocationRecord]:
        """A project's revocations, oldest first. Raises StoreError on failure."""
        query = select(*_REVOCATION_COLUMNS).where(revocations.c.project_id == project_id)
        if not include_lifted:
            query = query.where(revocations.c.lifted_at.is_(None))
        return await self._revocations(query)

    async def list_active_revocations(self, now: int) -> list[RevocationRecord]:
        """Unlifted revocations of every project that can still match a valid token at ``now``.

        Raises:
            StoreError: on failure.
        """
        query = select(*_REVOCATION_COLUMNS).where(
            revocations.c.lifted_at.is_(None), revocations.c.expires_at > now
        )
        return await self._revocations(query)

    async def load_active_revocations(self, now: int) -> dict[str, ActiveRevocations]:
        """:meth:`list_active_revocations` in bulk, by project, for a node's start.

        Read on the driver's own connection, jti rules packed in SQL: with 1,000,000
        revocations, SQLAlchemy's rows and the records and rules built from them (and the
        garbage collector's passes over them) were most of a node's start (bench/startup.py).

        Raises:
            StoreError: on failure.
        """
        loaded: dict[str, ActiveRevocations] = {}
        # PostgreSQL: two connections on one snapshot, each reading half of the table, so that
        # two server processes build the arrays while this one decodes (see _bulk_revocations)
        async with self._read("load revocations") as conn, self._read("load revocations") as other:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            with paused_gc():  # nearly every object made here lives on (see roomkey._gc)
                if self.dialect == "postgresql":
                    second = (await other.get_raw_connection()).driver_connection
                    await _load_postgres(raw, second, now, loaded)
                else:
                    await _load_sqlite(raw, now, loaded)
        return loaded

    async def purge_revocations(self, now: int) -> int:
        """Delete revocations past their ``expires_at``; returns how many. Raises StoreError."""
        async with self._write("purge revocations") as conn:
            result = await conn.execute(delete(revocations).where(revocations.c.expires_at <= now))
        return int(result.rowcount)

    async def insert_audit_many(
        self, rows: Sequence[AuditRecord], *, events: Sequence[OutboxEvent] = ()
    ) -> None:
        """Insert audit rows in one transaction with one executemany (all or none), with
        ``events`` (token issued) in the outbox of the same transaction.

        Raises:
            ConflictError: a jti is already recorded (or repeated in ``rows``); nothing is written.
            StoreError: any other database failure.
        """
        if not rows:
            return
        if self._audit_lane is not None and not events:
            self._check_open("record issued tokens")
            await self._audit_lane.insert(rows)
            return
        # with events, SQLite takes this path too: the lane's connection writes audit rows only
        async with self._write("record issued tokens") as conn:
            await conn.execute(insert(audit), [to_row(row) for row in rows])
            await self._emit(conn, events)

    async def list_audit(
        self,
        project_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        room: str | None = None,
        identity: str | None = None,
        kid: str | None = None,
        issued_from: int | None = None,
        issued_until: int | None = None,
    ) -> tuple[list[AuditRecord], str | None]:
        """A page of a project's audit rows, newest first, and the next page's cursor (or None).

        Filters: ``room``, ``identity`` and ``kid`` exactly; ``issued_from`` and
        ``issued_until`` bound ``issued_at`` (epoch seconds, both inclusive).

        Raises:
            InvalidCursorError: ``cursor`` was not returned by this method.
            StoreError: any other database failure.
        """
        limit = clamp_limit(limit)
        filters = _audit_filters(project_id, room, identity)
        if kid is not None:
            filters.append(audit.c.kid == kid)
        if issued_from is not None:
            filters.append(audit.c.issued_at >= issued_from)
        if issued_until is not None:
            filters.append(audit.c.issued_at <= issued_until)
        query = select(audit).where(*filters)
        if cursor is not None:
            (last_id,) = decode_cursor(cursor, int)
            query = query.where(audit.c.id < last_id)
        query = query.order_by(audit.c.id.desc()).limit(limit + 1)
        async with self._read("list audit") as conn:
            page = [from_row(AuditRecord, row) for row in (await conn.execute(query)).all()]
        if len(page) <= limit:
            return page, None
        return page[:limit], encode_cursor(int(page[limit - 1].id or 0))

    async def count_audit(
        self, project_id: str, *, room: str | None = None, identity: str | None = None
    ) -> int:
        """How many audit rows match. Raises StoreError on failure."""
        query = select(func.count()).select_from(audit)
        query = query.where(*_audit_filters(project_id, room, identity))
        async with self._read("count audit") as conn:
            return int((await conn.execute(query)).scalar_one())

    async def _revocations(self, query: Any) -> list[RevocationRecord]:
        """Records of a query over :data:`_REVOCATION_COLUMNS`, oldest first."""
        query = query.order_by(revocations.c.created_at, revocations.c.id)
        async with self._read("list revocations") as conn:
            rows = (await conn.execute(query)).all()
        # positional: a node loads every active revocation at start, and building each record
        # from a name mapping took 6.7 of the 11 s that 1,000,000 of them cost
        return [RevocationRecord(*row) for row in rows]


def _audit_filters(
    project_id: str, room: str | None, identity: str | None
) -> list[ColumnElement[bool]]:
    filters = [audit.c.project_id == project_id]
    if room is not None:
        filters.append(audit.c.room == room)
    if identity is not None:
        filters.append(audit.c.identity == identity)
    return filters
