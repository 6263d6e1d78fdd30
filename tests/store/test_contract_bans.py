"""The Store contract for bans and room locks, against real SQLite and real PostgreSQL."""

from __future__ import annotations

import pytest
from store_factories import NOW, ban, project, room

from roomkey.store import ConflictError, NotFoundError, SqlStore


@pytest.fixture
async def db(store: SqlStore) -> SqlStore:
    """A store holding project ``p1`` (and ``p2``)."""
    await store.create_project(project("p1"))
    await store.create_project(project("p2"))
    return store


async def test_ban_round_trip_and_listing(db: SqlStore) -> None:
    first = await db.add_ban(ban("mallory", reason="spam", created_by="APIkey1"))
    other_room = await db.add_ban(ban("mallory", room_id="room-two", created_at=NOW + 1))
    elsewhere = await db.add_ban(ban("mallory", project_id="p2"))
    assert await db.get_ban("p1", "abcd-efgh-ijkl", "mallory") == first
    assert await db.get_ban("p1", "abcd-efgh-ijkl", "trent") is None
    assert await db.list_bans("p1") == [first, other_room]
    assert await db.list_bans("p1", room="room-two") == [other_room]
    assert await db.list_bans("p2") == [elsewhere]
    assert {b.id for b in await db.list_all_live_bans()} == {first.id, other_room.id, elsewhere.id}


async def test_one_live_ban_per_room_and_identity(db: SqlStore) -> None:
    await db.add_ban(ban("mallory"))
    with pytest.raises(ConflictError):
        await db.add_ban(ban("mallory"))
    assert len(await db.list_bans("p1")) == 1


async def test_a_lifted_ban_stays_as_history_and_frees_the_slot(db: SqlStore) -> None:
    first = await db.add_ban(ban("mallory"))
    lifted = await db.lift_ban("p1", "abcd-efgh-ijkl", "mallory", now=NOW + 5)
    assert (lifted.id, lifted.lifted_at) == (first.id, NOW + 5)
    assert await db.get_ban("p1", "abcd-efgh-ijkl", "mallory") is None
    again = await db.add_ban(ban("mallory", created_at=NOW + 6))
    assert await db.list_bans("p1") == [again]
    assert await db.list_bans("p1", include_lifted=True) == [lifted, again]
    assert await db.list_all_live_bans() == [again]


async def test_lifting_a_ban_that_is_not_live_is_not_found(db: SqlStore) -> None:
    with pytest.raises(NotFoundError):
        await db.lift_ban("p1", "abcd-efgh-ijkl", "nobody", now=NOW)
    await db.add_ban(ban("mallory"))
    await db.lift_ban("p1", "abcd-efgh-ijkl", "mallory", now=NOW)
    with pytest.raises(NotFoundError):
        await db.lift_ban("p1", "abcd-efgh-ijkl", "mallory", now=NOW + 1)


async def test_a_ban_needs_its_project(db: SqlStore) -> None:
    with pytest.raises(NotFoundError):
        await db.add_ban(ban("mallory", project_id="nope"))


async def test_room_lock_and_unlock_are_idempotent(db: SqlStore) -> None:
    stored, _ = await db.create_room(room("abcd-efgh-ijkl"))
    assert stored.locked is False
    locked = await db.set_room_locked("p1", "abcd-efgh-ijkl", True)
    assert locked.locked is True and await db.get_room("p1", "abcd-efgh-ijkl") == locked
    assert (await db.set_room_locked("p1", "abcd-efgh-ijkl", True)).locked is True
    assert (await db.set_room_locked("p1", "abcd-efgh-ijkl", False)).locked is False
    with pytest.raises(NotFoundError):
        await db.set_room_locked("p1", "no-such-room", True)
    with pytest.raises(NotFoundError):
        await db.set_room_locked("p2", "abcd-efgh-ijkl", True)


async def test_bans_and_locks_move_the_state_revision(db: SqlStore) -> None:
    await db.create_room(room("abcd-efgh-ijkl"))
    seen = [await db.state_revision()]
    for write in (
        db.add_ban(ban("mallory")),
        db.lift_ban("p1", "abcd-efgh-ijkl", "mallory", now=NOW),
        db.set_room_locked("p1", "abcd-efgh-ijkl", True),
    ):
        await write
        seen.append(await db.state_revision())
    assert seen == sorted(set(seen)) and len(seen) == 4
    with pytest.raises(NotFoundError):
        await db.lift_ban("p1", "abcd-efgh-ijkl", "mallory", now=NOW)
    assert await db.state_revision() == seen[-1]  # a write that fails changes nothing
