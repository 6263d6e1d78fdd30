"""The transactional outbox: events written inside the transaction of the change they report.

:func:`emit` runs on the write transaction's connection, so an event commits with its change or
not at all. It fans out at once: one delivery row per enabled endpoint of the project that lists
the event's type (an event no endpoint wants is not stored). On PostgreSQL it first takes a
transaction-scoped advisory lock, so that events and deliveries get their serial ids in commit
order: without it, two transactions could take ids 5 and 6 and commit 6 first, and a worker
would deliver 6 before 5 exists. SQLite writers are serialised already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text

from roomkey.store._conn import WriteConnection
from roomkey.store.records import OutboxEvent
from roomkey.store.schema import webhook_deliveries, webhook_endpoints, webhook_events

# arbitrary constant shared by every roomkey node: "rkhooks" in ASCII
_PG_OUTBOX_LOCK = 0x726B686F6F6B73


async def lock_outbox(conn: WriteConnection) -> None:
    """Serialise outbox writers until this transaction ends (PostgreSQL; a no-op on SQLite)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_OUTBOX_LOCK})


async def emit(conn: WriteConnection, events: Sequence[OutboxEvent]) -> int:
    """Store ``events`` and their deliveries in the open transaction; how many deliveries.

    Raises whatever the connection raises (the caller's ``_write`` translates it).
    """
    if not events:
        return 0
    await lock_outbox(conn)
    wanted = await _subscribers(conn, {e.project_id for e in events})
    chosen = [(e, wanted.get((e.project_id, e.type), [])) for e in events]
    chosen = [(e, targets) for e, targets in chosen if targets]
    if not chosen:
        return 0
    rows = [_event_row(e) for e, _ in chosen]
    inserted = await conn.execute(
        insert(webhook_events).returning(webhook_events.c.seq, sort_by_parameter_order=True),
        rows,
    )
    seqs = [int(r.seq) for r in inserted]
    deliveries = [
        delivery_values(seq, endpoint, event.project_id, event.created_at)
        for seq, (event, targets) in zip(seqs, chosen, strict=True)
        for endpoint in targets
    ]
    await conn.execute(insert(webhook_deliveries), deliveries)
    return len(deliveries)


async def _subscribers(
    conn: WriteConnection, project_ids: set[str]
) -> dict[tuple[str, str], list[str]]:
    """Enabled endpoints by (project, event type), in id order."""
    query = (
        select(
            webhook_endpoints.c.id, webhook_endpoints.c.project_id, webhook_endpoints.c.event_types
        )
        .where(webhook_endpoints.c.project_id.in_(sorted(project_ids)))
        .where(webhook_endpoints.c.enabled.is_(True))
        .order_by(webhook_endpoints.c.id)
    )
    wanted: dict[tuple[str, str], list[str]] = {}
    for row in (await conn.execute(query)).all():
        for event_type in row.event_types or ():
            wanted.setdefault((row.project_id, str(event_type)), []).append(row.id)
    return wanted


def _event_row(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "project_id": event.project_id,
        "type": event.type,
        "payload": event.payload,
        "created_at": event.created_at,
    }


def delivery_values(
    event_seq: int, endpoint_id: str, project_id: str, created_at: int
) -> dict[str, Any]:
    """A new pending delivery, due from ``created_at`` (epoch seconds) on."""
    return {
        "event_seq": event_seq,
        "endpoint_id": endpoint_id,
        "project_id": project_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": float(created_at),
        "created_at": created_at,
    }


__all__ = ["delivery_values", "emit", "lock_outbox"]
