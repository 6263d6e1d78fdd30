"""The Store contract for webhooks (endpoints, the outbox, claims, the delivery log), against real
SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from store_factories import NOW, audit, key, outbox_event, project, revocation, room, webhook

from roomkey.store import DeliveryOutcome, NotFoundError, OutboxEvent, SqlStore

LEASE_S = 30.0


@pytest.fixture
async def db(store: SqlStore) -> SqlStore:
    """A store holding projects ``p1`` and ``p2`` and endpoints ``a`` and ``b`` of ``p1``."""
    await store.create_project(project("p1"))
    await store.create_project(project("p2"))
    await store.create_webhook(webhook("a", event_types=["room.created", "x"]))
    await store.create_webhook(webhook("b", event_types=["room.created"]))
    return store


def _room_created(r: object) -> list[OutboxEvent]:
    return [outbox_event("room.created", payload={"room": getattr(r, "id", "")})]


async def _claim(db: SqlStore, now: float = NOW, claim: str = "n1:1", limit: int = 10) -> list:
    return await db.claim_deliveries(claim=claim, now=now, lease_s=LEASE_S, limit=limit)


def _heads(claimed: list) -> list[tuple[str, str]]:
    return [(c.endpoint.id, c.event.type) for c in claimed]


async def test_endpoint_round_trip(db: SqlStore) -> None:
    created = await db.create_webhook(webhook("c", format="livekit", livekit_key="k1"))
    assert await db.get_webhook("p1", "c") == created
    changed = dataclasses.replace(
        created, url="https://other.example/h", enabled=False, previous_secret_ciphertext=b"\x02"
    )
    updated = await db.update_webhook(changed)
    assert updated == changed
    assert [e.id for e in await db.list_webhooks("p1")] == ["a", "b", "c"]
    assert await db.list_webhooks("p2") == []
    assert await db.get_webhook("p2", "a") is None
    await db.delete_webhook("p1", "c")
    with pytest.raises(NotFoundError):
        await db.delete_webhook("p1", "c")
    with pytest.raises(NotFoundError):
        await db.update_webhook(changed)


async def test_an_event_commits_with_its_change_and_fans_out(db: SqlStore) -> None:
    stored, created = await db.create_room(room("aaaa-bbbb-cccc"), events=_room_created)
    assert created
    claimed = await _claim(db)
    assert _heads(claimed) == [("a", "room.created"), ("b", "room.created")]
    assert claimed[0].event.payload == {"room": stored.id}
    assert claimed[0].event.id == claimed[1].event.id  # one event, two deliveries


async def test_an_idempotent_repeat_reports_nothing(db: SqlStore) -> None:
    await db.create_room(room(custom_id="same"), events=_room_created)
    await db.create_room(room(custom_id="same"), events=_room_created)
    r = await db.create_room(room(), events=None)
    await db.deactivate_room("p1", r[0].id, now=NOW, events=_room_created)
    await db.deactivate_room("p1", r[0].id, now=NOW, events=_room_created)
    deliveries, _ = await db.list_deliveries("p1", endpoint_id="a")
    assert len(deliveries) == 2


async def test_a_rolled_back_change_never_gets_its_event(db: SqlStore) -> None:
    with pytest.raises(RuntimeError):
        async with db._write("a change that fails after its event") as conn:
            await db._emit(conn, [outbox_event("room.created")])
            raise RuntimeError("boom")
    with pytest.raises(NotFoundError):  # no such project: the insert fails, nothing is written
        await db.add_revocation(revocation(project_id="nope"), events=_room_created)
    assert await _claim(db) == []
    assert (await db.list_deliveries("p1"))[0] == []


async def test_only_enabled_subscribers_of_the_project_get_deliveries(db: SqlStore) -> None:
    off = await db.get_webhook("p1", "b")
    assert off is not None
    await db.update_webhook(dataclasses.replace(off, enabled=False))
    await db.add_webhook_events(
        [outbox_event("x"), outbox_event("nobody.wants.this"), outbox_event("x", "p2")]
    )
    assert _heads(await _claim(db)) == [("a", "x")]


async def test_each_endpoint_gets_its_events_in_order_one_at_a_time(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("x", payload={"n": n}) for n in range(3)])
    first = await _claim(db)
    assert [c.event.payload for c in first] == [{"n": 0}]
    assert await _claim(db, claim="n2:1") == []  # leased: nobody else takes it, nor the next
    assert await db.finish_delivery(first[0].delivery.id, "n1:1", now=NOW, delivered=True)
    second = await _claim(db, claim="n1:2")
    assert [c.event.payload for c in second] == [{"n": 1}]
    # a retry keeps the endpoint's queue waiting until it is due
    retry_at = NOW + 10.0
    await db.finish_delivery(
        second[0].delivery.id,
        "n1:2",
        now=NOW,
        delivered=False,
        status_code=500,
        error="server error",
        retry_at=retry_at,
    )
    assert await _claim(db, now=NOW + 5, claim="n1:3") == []
    again = await _claim(db, now=retry_at, claim="n1:4")
    assert [(c.event.payload, c.delivery.attempts) for c in again] == [({"n": 1}, 1)]
    # dead: the next event goes
    await db.finish_delivery(again[0].delivery.id, "n1:4", now=retry_at, delivered=False)
    third = await _claim(db, now=retry_at, claim="n1:5")
    assert [c.event.payload for c in third] == [{"n": 2}]
    log, _ = await db.list_deliveries("p1", endpoint_id="a")
    assert [(d.status, d.attempts, d.last_status) for d in log] == [
        ("pending", 0, None),
        ("dead", 2, None),
        ("delivered", 1, None),
    ]
    assert log[1].last_error is None and log[1].event_type == "x"


async def test_a_lease_that_ran_out_goes_to_another_node_and_fences_the_first(
    db: SqlStore,
) -> None:
    await db.add_webhook_events([outbox_event("x")])
    (mine,) = await _claim(db, claim="dead-node:1")
    assert await _claim(db, now=NOW + LEASE_S - 1, claim="n2:1") == []
    (theirs,) = await _claim(db, now=NOW + LEASE_S + 1, claim="n2:2")
    assert theirs.delivery.id == mine.delivery.id
    assert not await db.finish_delivery(mine.delivery.id, "dead-node:1", now=NOW, delivered=True)
    assert await db.finish_delivery(theirs.delivery.id, "n2:2", now=NOW, delivered=True)


async def test_released_claims_are_claimable_at_once(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("x")])
    await _claim(db, claim="stopping:1")
    assert await db.release_deliveries(["stopping:1"]) == 1
    assert len(await _claim(db, claim="n2:1")) == 1


async def test_concurrent_claims_take_different_rows(db: SqlStore) -> None:
    for n in range(6):
        await db.create_webhook(webhook(f"e{n}", event_types=["y"]))
    await db.add_webhook_events([outbox_event("y") for _ in range(3)])
    results = await asyncio.gather(*(_claim(db, claim=f"n{i}:1", limit=2) for i in range(4)))
    ids = [c.delivery.id for claimed in results for c in claimed]
    assert len(ids) == len(set(ids)) == 6  # the six heads, each claimed once


async def test_a_disabled_endpoint_holds_its_queue_until_enabled(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("x")])
    endpoint = await db.get_webhook("p1", "a")
    assert endpoint is not None
    await db.update_webhook(dataclasses.replace(endpoint, enabled=False))
    assert await _claim(db) == []
    await db.update_webhook(endpoint)
    assert len(await _claim(db)) == 1


async def test_redelivery_queues_the_event_again_at_the_end(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("x", payload={"n": n}) for n in range(2)])
    (first,) = await _claim(db)
    await db.finish_delivery(first.delivery.id, "n1:1", now=NOW, delivered=False)  # dead
    again = await db.redeliver("p1", first.delivery.id, now=NOW + 1)
    assert (again.status, again.attempts, again.event_id) == ("pending", 0, first.event.id)
    assert [c.event.payload for c in await _claim(db, claim="n1:2")] == [{"n": 1}]
    with pytest.raises(NotFoundError):
        await db.redeliver("p2", first.delivery.id, now=NOW)


async def test_listing_filters_and_pages(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("room.created") for _ in range(3)])
    page, cursor = await db.list_deliveries("p1", limit=4)
    assert len(page) == 4 and cursor is not None
    rest, end = await db.list_deliveries("p1", limit=4, cursor=cursor)
    assert len(rest) == 2 and end is None
    assert [d.id for d in page + rest] == sorted((d.id for d in page + rest), reverse=True)
    assert (await db.list_deliveries("p1", status="delivered"))[0] == []
    assert await db.get_delivery("p1", page[0].id) == page[0]
    assert await db.get_delivery("p2", page[0].id) is None


async def test_token_issued_events_commit_with_their_audit_rows(db: SqlStore) -> None:
    await db.create_key(key("k1"))
    await db.create_webhook(webhook("t", event_types=["token.issued"]))
    await db.insert_audit_many([audit(), audit()], events=[outbox_event("token.issued")])
    assert _heads(await _claim(db)) == [("t", "token.issued")]
    assert await db.count_audit("p1") == 2


async def test_purging_keeps_pending_deliveries_and_their_events(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("x"), outbox_event("x")])
    (first,) = await _claim(db)
    await db.finish_delivery(first.delivery.id, "n1:1", now=NOW, delivered=True)
    assert await db.purge_webhook_log(NOW + 1) == 1
    log, _ = await db.list_deliveries("p1")
    assert [d.status for d in log] == ["pending"]
    assert len(await _claim(db, claim="n1:2")) == 1


async def test_finishing_hands_over_the_endpoints_next_delivery(db: SqlStore) -> None:
    await db.add_webhook_events([outbox_event("x", payload={"n": n}) for n in range(3)])
    (first,) = await _claim(db)
    kept, second = await db.finish_and_claim_next(
        first, now=NOW, lease_s=LEASE_S, delivered=True, status_code=204
    )
    assert kept and second is not None and second.event.payload == {"n": 1}
    assert second.claim == first.claim
    assert await _claim(db, claim="n2:1") == []  # leased to the first claim already
    kept, none = await db.finish_and_claim_next(
        second, now=NOW, lease_s=LEASE_S, delivered=False, retry_at=NOW + 5
    )
    assert kept and none is None  # a retry keeps the same head
    # a claim taken over hands nothing over
    (third,) = await _claim(db, now=NOW + 6, claim="n3:1")
    assert third.delivery.id == second.delivery.id
    lost, nothing = await db.finish_and_claim_next(
        second, now=NOW + 6, lease_s=LEASE_S, delivered=True
    )
    assert not lost and nothing is None


async def test_outcomes_of_several_endpoints_are_recorded_together(db: SqlStore) -> None:
    await db.create_webhook(webhook("c", event_types=["x"]))
    await db.add_webhook_events([outbox_event("x", payload={"n": n}) for n in range(2)])
    a1, c1 = await _claim(db)  # the heads of a and c
    results = await db.finish_many(
        [
            DeliveryOutcome(a1, delivered=True, status_code=204),
            DeliveryOutcome(c1, delivered=False, status_code=500, retry_at=NOW + 9),
        ],
        now=NOW,
        lease_s=LEASE_S,
    )
    (a_kept, a2), (c_kept, c_next) = results
    assert a_kept and a2 is not None and a2.event.payload == {"n": 1} and a2.claim == a1.claim
    assert c_kept and c_next is None
    log, _ = await db.list_deliveries("p1", endpoint_id="c")
    assert [(d.status, d.attempts) for d in log] == [("pending", 0), ("pending", 1)]
