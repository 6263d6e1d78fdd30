"""The Store contract for the change feed: every state write adds one row naming what it
changed, in revision order, with no gaps, and a rolled-back write adds none."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from store_factories import NOW, ban, key, project, revocation, role, room

from roomkey.store import BAN_REF_SEPARATOR, ChangeRecord, ConflictError, SqlStore


@pytest.fixture
async def db(store: SqlStore) -> SqlStore:
    await store.create_project(project("p1"))
    return store


def _kinds(changes: Sequence[ChangeRecord]) -> list[tuple[str, str, str]]:
    return [(c.kind, c.project_id, c.ref) for c in changes]


async def test_each_state_write_adds_one_change_naming_it(db: SqlStore) -> None:
    start = await db.state_revision()
    k = await db.create_key(key("k1"))
    r = await db.create_room(room("room-1"))
    await db.upsert_role(role("presenter"))
    await db.add_revocation(revocation("rev_1"))
    await db.lift_revocation("p1", "rev_1", now=NOW)
    await db.add_ban(ban("mallory", room_id="room-1"))
    await db.lift_ban("p1", "room-1", "mallory", now=NOW)
    await db.set_room_locked("p1", "room-1", True)
    await db.deactivate_room("p1", "room-1", now=NOW)
    await db.update_key_status(k.kid, "disabled", now=NOW)
    await db.delete_key(k.kid)
    await db.delete_role("p1", "presenter")
    changes = await db.changes_since(start)
    assert [c.rev for c in changes] == list(range(start + 1, start + 13))
    assert await db.state_revision() == start + 12
    ban_ref = f"room-1{BAN_REF_SEPARATOR}mallory"
    assert _kinds(changes) == [
        ("key", "p1", "k1"),
        ("room", "p1", r[0].id),
        ("role", "p1", "presenter"),
        ("revocation", "p1", "rev_1"),
        ("revocation", "p1", "rev_1"),
        ("ban", "p1", ban_ref),
        ("ban", "p1", ban_ref),
        ("room", "p1", "room-1"),
        ("room", "p1", "room-1"),
        ("key", "p1", "k1"),
        ("key", "p1", "k1"),
        ("role", "p1", "presenter"),
    ]


async def test_a_refused_write_adds_no_change(db: SqlStore) -> None:
    await db.add_revocation(revocation("rev_1"))
    before = await db.state_revision()
    with pytest.raises(ConflictError):
        await db.add_revocation(revocation("rev_1"))
    await db.lift_revocation("p1", "rev_1", now=NOW)
    await db.lift_revocation("p1", "rev_1", now=NOW + 1)  # already lifted: nothing changes
    assert [c.rev for c in await db.changes_since(before)] == [before + 1]


async def test_the_listener_hears_committed_changes_only(db: SqlStore) -> None:
    heard: list[ChangeRecord] = []
    db.watch_changes(heard.extend)
    await db.add_revocation(revocation("rev_1"))
    with pytest.raises(ConflictError):
        await db.add_revocation(revocation("rev_1"))
    db.watch_changes(None)
    await db.add_revocation(revocation("rev_2"))
    assert _kinds(heard) == [("revocation", "p1", "rev_1")]


async def test_concurrent_writes_get_distinct_consecutive_revisions(db: SqlStore) -> None:
    start = await db.state_revision()
    await asyncio.gather(*(db.add_revocation(revocation(f"rev_{i}")) for i in range(20)))
    changes = await db.changes_since(start)
    assert [c.rev for c in changes] == list(range(start + 1, start + 21))
    assert {c.ref for c in changes} == {f"rev_{i}" for i in range(20)}


async def test_paging_and_purging_keep_the_newest_row(db: SqlStore) -> None:
    start = await db.state_revision()
    for i in range(5):
        await db.add_revocation(revocation(f"rev_{i}"))
    assert [c.ref for c in await db.changes_since(start, limit=2)] == ["rev_0", "rev_1"]
    newest = (await db.changes_since(start))[-1]
    assert await db.purge_changes(newest.created_at + 3600) >= 4
    assert await db.changes_since(0) == [newest]


async def test_get_revocation_reads_lifted_ones_too(db: SqlStore) -> None:
    made = await db.add_revocation(revocation("rev_1"))
    assert await db.get_revocation("p1", "rev_1") == made
    lifted = await db.lift_revocation("p1", "rev_1", now=NOW)
    assert await db.get_revocation("p1", "rev_1") == lifted
    assert await db.get_revocation("p1", "rev_x") is None
    assert await db.get_revocation("p2", "rev_1") is None
