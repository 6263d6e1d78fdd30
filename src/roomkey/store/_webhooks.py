"""Webhook endpoints, events written on their own (no state change), and the delivery log.

Claims: a delivery is claimable when it is the oldest pending delivery of an enabled endpoint
(so each endpoint receives its events in order, one at a time), it is due, and no live lease
holds it. Claiming sets ``claimed_by`` and ``lease_until`` in one transaction; on PostgreSQL the
rows are locked ``FOR UPDATE SKIP LOCKED`` first, so nodes claiming at once take different rows
and never wait on each other. A node killed mid-delivery leaves its lease to run out, and the
delivery to whichever node claims it next. Finishing a delivery is fenced by the claim: a node
whose lease ran out and was taken over cannot overwrite the newer attempt's outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, delete, insert, or_, select, update

from roomkey.store._base import SqlBase, clamp_limit
from roomkey.store._codec import decode_cursor, encode_cursor, from_row, to_row
from roomkey.store._conn import WriteConnection
from roomkey.store._outbox import delivery_values, emit, lock_outbox
from roomkey.store.errors import NotFoundError
from roomkey.store.records import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    OutboxEvent,
    WebhookEndpointRecord,
)
from roomkey.store.schema import webhook_deliveries, webhook_endpoints, webhook_events

_D, _E, _W = webhook_deliveries, webhook_events, webhook_endpoints
_DELIVERY_COLUMNS = (*_D.c, _E.c.id.label("event_id"), _E.c.type.label("event_type"))
_CLAIM_COLUMNS = (
    *_DELIVERY_COLUMNS,
    _E.c.payload,
    _E.c.created_at.label("event_created_at"),
    *(column.label(f"w_{column.name}") for column in _W.c),
)
_ERROR_MAX_CHARS = 500


class Webhooks(SqlBase):
    """Webhook operations of :class:`~roomkey.store.protocol.Store`."""

    # ---- endpoints -------------------------------------------------------------------------

    async def create_webhook(self, endpoint: WebhookEndpointRecord) -> WebhookEndpointRecord:
        """Insert an endpoint. Raises NotFoundError (no project), ConflictError, StoreError."""
        async with self._write("create webhook") as conn:
            await self._require_project(conn, endpoint.project_id)
            await conn.execute(insert(_W).values(**to_row(endpoint)))
        return endpoint

    async def get_webhook(self, project_id: str, endpoint_id: str) -> WebhookEndpointRecord | None:
        """The project's endpoint, or None. Raises StoreError."""
        query = select(_W).where(_W.c.project_id == project_id, _W.c.id == endpoint_id)
        async with self._read("read webhook") as conn:
            row = await self._one(conn, query)
        return None if row is None else _endpoint(row)

    async def list_webhooks(self, project_id: str | None = None) -> list[WebhookEndpointRecord]:
        """A project's endpoints (every project's without one), oldest first. Raises StoreError."""
        query = select(_W).order_by(_W.c.created_at, _W.c.id)
        if project_id is not None:
            query = query.where(_W.c.project_id == project_id)
        async with self._read("list webhooks") as conn:
            return [_endpoint(row) for row in (await conn.execute(query)).all()]

    async def update_webhook(self, endpoint: WebhookEndpointRecord) -> WebhookEndpointRecord:
        """Replace an endpoint's row (all but its project and creation time).

        Raises NotFoundError (no such endpoint in the project), StoreError.
        """
        values = to_row(endpoint)
        for fixed in ("id", "project_id", "created_at"):
            values.pop(fixed)
        where = (_W.c.project_id == endpoint.project_id, _W.c.id == endpoint.id)
        async with self._write("update webhook") as conn:
            result = await conn.execute(update(_W).where(*where).values(**values))
            if result.rowcount == 0:
                raise NotFoundError("no such webhook", webhook_id=endpoint.id)
            row = await self._one(conn, select(_W).where(*where))
        return _endpoint(row)

    async def delete_webhook(self, project_id: str, endpoint_id: str) -> None:
        """Delete an endpoint and its deliveries. Raises NotFoundError, StoreError."""
        where = (_W.c.project_id == project_id, _W.c.id == endpoint_id)
        async with self._write("delete webhook") as conn:
            await conn.execute(delete(_D).where(_D.c.endpoint_id == endpoint_id))
            result = await conn.execute(delete(_W).where(*where))
            if result.rowcount == 0:
                raise NotFoundError("no such webhook", webhook_id=endpoint_id)

    # ---- events without a state change (admission) -----------------------------------------

    async def add_webhook_events(self, events: Sequence[OutboxEvent]) -> int:
        """Write ``events`` to the outbox in a transaction of their own; how many deliveries.

        For events that report no stored change (live admission state is in memory).
        Raises StoreError.
        """
        if not events:
            return 0
        async with self._write("record webhook events") as conn:
            return await emit(conn, events)

    # ---- claims ----------------------------------------------------------------------------

    async def claim_deliveries(
        self, *, claim: str, now: float, lease_s: float, limit: int
    ) -> list[ClaimedDelivery]:
        """Claim up to ``limit`` due deliveries, each the head of its endpoint's queue.

        Raises StoreError.
        """
        async with self._write("claim webhook deliveries") as conn:
            return await self._claim(conn, self._claimable(now, limit), claim, now + lease_s)

    async def _claim(
        self, conn: WriteConnection, claimable: Select[Any], claim: str, lease_until: float
    ) -> list[ClaimedDelivery]:
        rows = (await conn.execute(claimable)).all()
        if not rows:
            return []
        ids = [int(r.id) for r in rows]
        await conn.execute(
            update(_D).where(_D.c.id.in_(ids)).values(claimed_by=claim, lease_until=lease_until)
        )
        return [_claimed(row, claim, lease_until) for row in rows]

    def _claimable(
        self, now: float, limit: int, endpoint_ids: Sequence[str] | None = None
    ) -> Select[Any]:
        # each enabled endpoint's oldest pending delivery, found through the (endpoint_id,
        # status, id) index: the cost grows with the endpoints, not with the queue's length;
        # the event and the endpoint come in the same query (one round trip)
        head = (
            select(_D.c.id)
            .where(_D.c.endpoint_id == _W.c.id, _D.c.status == "pending")
            .order_by(_D.c.id)
            .limit(1)
            .correlate(_W)
            .scalar_subquery()
        )
        endpoints = select(head).where(_W.c.enabled.is_(True))
        if endpoint_ids is not None:
            endpoints = endpoints.where(_W.c.id.in_(list(endpoint_ids)))
        query = (
            select(*_CLAIM_COLUMNS)
            .join(_E, _E.c.seq == _D.c.event_seq)
            .join(_W, _W.c.id == _D.c.endpoint_id)
            .where(_D.c.id.in_(endpoints.scalar_subquery()))
            .where(_D.c.status == "pending", _D.c.next_attempt_at <= now)
            .where(or_(_D.c.lease_until.is_(None), _D.c.lease_until < now))
            .order_by(_D.c.next_attempt_at, _D.c.id)
            .limit(max(1, limit))
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=_D)
        return query

    async def finish_delivery(
        self,
        delivery_id: int,
        claim: str,
        *,
        now: float,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> bool:
        """Record an attempt's outcome under ``claim``; False when the claim was lost.

        ``delivered``; else pending again at ``retry_at``, or ``dead`` without one.
        Raises StoreError.
        """
        query = self._finished(delivery_id, claim, now, delivered, status_code, error, retry_at)
        async with self._write("record a webhook delivery") as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)

    async def finish_and_claim_next(
        self,
        claimed: ClaimedDelivery,
        *,
        now: float,
        lease_s: float,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> tuple[bool, ClaimedDelivery | None]:
        """:meth:`finish_delivery`, then, in the same transaction, claim the endpoint's next
        delivery if it is due (under the same claim): one transaction per delivery for an
        endpoint with a queue. Returns (claim kept, the next delivery or None).

        Raises StoreError.
        """
        outcome = DeliveryOutcome(claimed, delivered, status_code, error, retry_at)
        (result,) = await self.finish_many([outcome], now=now, lease_s=lease_s)
        return result

    async def finish_many(
        self, outcomes: Sequence[DeliveryOutcome], *, now: float, lease_s: float
    ) -> list[tuple[bool, ClaimedDelivery | None]]:
        """:meth:`finish_and_claim_next` for several deliveries (of different endpoints) in one
        transaction: the worker records what its attempts in flight finished together.

        Raises StoreError.
        """
        results: list[tuple[bool, ClaimedDelivery | None]] = []
        async with self._write("record webhook deliveries") as conn:
            moving: dict[str, str] = {}  # endpoint id -> the claim its next delivery goes to
            for o in outcomes:
                d = o.claimed.delivery
                query = self._finished(
                    d.id, o.claimed.claim, now, o.delivered, o.status_code, o.error, o.retry_at
                )
                kept = bool((await conn.execute(query)).rowcount)
                results.append((kept, None))
                if kept and o.retry_at is None:  # lost, or the same delivery stays the head
                    moving[d.endpoint_id] = o.claimed.claim
            following = await self._claim_next(conn, moving, now + lease_s, now)
        return [
            (kept, following.get(o.claimed.delivery.endpoint_id) if kept else None)
            for (kept, _), o in zip(results, outcomes, strict=True)
        ]

    async def _claim_next(
        self, conn: WriteConnection, moving: dict[str, str], lease_until: float, now: float
    ) -> dict[str, ClaimedDelivery]:
        if not moving:
            return {}
        claimable = self._claimable(now, len(moving), endpoint_ids=sorted(moving))
        rows = (await conn.execute(claimable)).all()
        by_claim: dict[str, list[int]] = {}
        for row in rows:
            by_claim.setdefault(moving[row.endpoint_id], []).append(int(row.id))
        for claim, ids in by_claim.items():
            await conn.execute(
                update(_D).where(_D.c.id.in_(ids)).values(claimed_by=claim, lease_until=lease_until)
            )
        return {
            row.endpoint_id: _claimed(row, moving[row.endpoint_id], lease_until) for row in rows
        }

    def _finished(
        self,
        delivery_id: int,
        claim: str,
        now: float,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        retry_at: float | None,
    ) -> Any:
        status: DeliveryStatus = "delivered" if delivered else "pending"
        values: dict[str, Any] = {
            "attempts": _D.c.attempts + 1,
            "last_status": status_code,
            "last_error": None if error is None else error[:_ERROR_MAX_CHARS],
            "last_attempt_at": now,
            "claimed_by": None,
            "lease_until": None,
        }
        if delivered:
            values["delivered_at"] = now
        elif retry_at is None:
            status = "dead"
        else:
            values["next_attempt_at"] = retry_at
        query = update(_D).where(_D.c.id == delivery_id, _D.c.claimed_by == claim)
        return query.values(status=status, **values)

    async def release_deliveries(self, claims: Sequence[str]) -> int:
        """Drop the leases of ``claims`` (a node shutting down); how many. Raises StoreError."""
        if not claims:
            return 0
        query = update(_D).where(_D.c.claimed_by.in_(list(claims)), _D.c.status == "pending")
        async with self._write("release webhook deliveries") as conn:
            result = await conn.execute(query.values(claimed_by=None, lease_until=None))
        return int(result.rowcount)

    # ---- the delivery log ------------------------------------------------------------------

    async def list_deliveries(
        self,
        project_id: str,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[DeliveryRecord], str | None]:
        """A page of the project's deliveries, newest first, and the next page's cursor.

        Raises InvalidCursorError (a cursor not from this method), StoreError.
        """
        limit = clamp_limit(limit)
        query = _delivery_query().where(_D.c.project_id == project_id)
        if endpoint_id is not None:
            query = query.where(_D.c.endpoint_id == endpoint_id)
        if status is not None:
            query = query.where(_D.c.status == status)
        if cursor is not None:
            (before,) = decode_cursor(cursor, int)
            query = query.where(_D.c.id < before)
        query = query.order_by(_D.c.id.desc()).limit(limit + 1)
        async with self._read("list webhook deliveries") as conn:
            page = [_delivery(row) for row in (await conn.execute(query)).all()]
        if len(page) <= limit:
            return page, None
        return page[:limit], encode_cursor(page[limit - 1].id)

    async def get_delivery(self, project_id: str, delivery_id: int) -> DeliveryRecord | None:
        """One delivery of the project, or None. Raises StoreError."""
        query = _delivery_query().where(_D.c.project_id == project_id, _D.c.id == delivery_id)
        async with self._read("read webhook delivery") as conn:
            row = await self._one(conn, query)
        return None if row is None else _delivery(row)

    async def redeliver(self, project_id: str, delivery_id: int, *, now: int) -> DeliveryRecord:
        """Queue the event of a delivery again for its endpoint, as a new delivery at the end
        of the endpoint's queue (the old row stays in the log).

        Raises NotFoundError (no such delivery in the project), StoreError.
        """
        async with self._write("redeliver a webhook") as conn:
            await lock_outbox(conn)
            where = (_D.c.project_id == project_id, _D.c.id == delivery_id)
            old = await self._one(conn, select(_D).where(*where))
            if old is None:
                raise NotFoundError("no such delivery", delivery_id=delivery_id)
            values = delivery_values(old.event_seq, old.endpoint_id, project_id, now)
            new_id = (await conn.execute(insert(_D).values(**values).returning(_D.c.id))).scalar()
            row = await self._one(conn, _delivery_query().where(_D.c.id == new_id))
        return _delivery(row)

    async def purge_webhook_log(self, before: int) -> int:
        """Delete finished deliveries created before ``before``, and events no delivery needs
        any more; how many deliveries. Raises StoreError."""
        finished = and_(_D.c.status != "pending", _D.c.created_at < before)
        orphan = ~select(_D.c.id).where(_D.c.event_seq == _E.c.seq).exists()
        async with self._write("purge the webhook log") as conn:
            result = await conn.execute(delete(_D).where(finished))
            await conn.execute(delete(_E).where(_E.c.created_at < before, orphan))
        return int(result.rowcount)


def _delivery_query() -> Select[Any]:
    return select(*_DELIVERY_COLUMNS).join(_E, _E.c.seq == _D.c.event_seq)


def _claimed(row: Any, claim: str, lease_until: float) -> ClaimedDelivery:
    delivery = dataclasses.replace(_delivery(row), claimed_by=claim, lease_until=lease_until)
    endpoint = {
        name: getattr(row, f"w_{name}") for name in WebhookEndpointRecord.__dataclass_fields__
    }
    for sealed in ("secret_ciphertext", "previous_secret_ciphertext"):
        if endpoint[sealed] is not None:  # asyncpg may hand back memoryview-like buffers
            endpoint[sealed] = bytes(endpoint[sealed])
    return ClaimedDelivery(delivery, _event(row), WebhookEndpointRecord(**endpoint), claim)


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(
        id=row.event_id,
        project_id=row.project_id,
        type=row.event_type,
        payload=row.payload,
        created_at=int(row.event_created_at),
        seq=int(row.event_seq),
    )


def _delivery(row: Any) -> DeliveryRecord:
    values = {name: getattr(row, name) for name in DeliveryRecord.__dataclass_fields__}
    return DeliveryRecord(**values)


def _endpoint(row: Any) -> WebhookEndpointRecord:
    endpoint = from_row(WebhookEndpointRecord, row)
    previous = endpoint.previous_secret_ciphertext
    if previous is not None and not isinstance(previous, bytes):
        # asyncpg may hand back memoryview-like buffers; records always hold bytes
        return dataclasses.replace(endpoint, previous_secret_ciphertext=bytes(previous))
    return endpoint


__all__ = ["Webhooks"]
