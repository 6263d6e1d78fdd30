"""The Store contract, run against real SQLite and real PostgreSQL (see conftest.py)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import event
from store_factories import NOW, audit, key, project, revocation, role, room

from roomkey.store import (
    ConflictError,
    InvalidCursorError,
    NotFoundError,
    ProjectSettings,
    SqlStore,
)


@pytest.fixture
async def db(store: SqlStore) -> SqlStore:
    """A store holding project ``p1``."""
    await store.create_project(project("p1"))
    return store


# ---- projects ---------------------------------------------------------------------------------


async def test_project_round_trip_and_defaults(store: SqlStore) -> None:
    created = await store.create_project(project("p1"))
    assert await store.get_project("p1") == created
    assert created.settings == ProjectSettings()
    assert created.settings.default_ttl_s == 900 and created.settings.max_ttl_s == 86400
    assert await store.get_project("nope") is None


async def test_project_duplicate_id_conflicts(db: SqlStore) -> None:
    with pytest.raises(ConflictError):
        await db.create_project(project("p1"))


async def test_project_settings_update_and_listing(db: SqlStore) -> None:
    await db.create_project(project("p0", created_at=NOW - 10))
    settings = ProjectSettings(default_ttl_s=60, rate_limit_per_min=30, sandbox_enabled=True)
    updated = await db.update_project_settings("p1", settings)
    assert updated.settings == settings
    assert [p.id for p in await db.list_projects()] == ["p0", "p1"]
    with pytest.raises(NotFoundError):
        await db.update_project_settings("nope", settings)


# ---- keys -------------------------------------------------------------------------------------


async def test_key_round_trip_keeps_bytes_and_jwk(db: SqlStore) -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    signing = key("sig-1", alg="EdDSA", purpose="signing", public_jwk=jwk, description="d")
    await db.create_key(signing)
    assert await db.get_key("sig-1") == signing
    assert await db.get_key("missing") is None


async def test_key_create_checks_project_and_kid(db: SqlStore) -> None:
    await db.create_key(key("k1"))
    with pytest.raises(ConflictError):
        await db.create_key(key("k1"))
    with pytest.raises(NotFoundError):
        await db.create_key(key("k2", project_id="nope"))


async def test_key_status_expiry_and_active_listing(db: SqlStore) -> None:
    for kid in ("k1", "k2", "k3"):
        await db.create_key(key(kid))
    disabled = await db.update_key_status("k1", "disabled", now=NOW + 5)
    assert (disabled.status, disabled.disabled_at) == ("disabled", NOW + 5)
    await db.set_key_expiry("k2", NOW + 100)
    assert [k.kid for k in await db.list_all_active_keys()] == ["k2", "k3"]
    assert [k.kid for k in await db.list_all_active_keys(now=NOW + 100)] == ["k3"]
    enabled = await db.update_key_status("k1", "active", now=NOW + 6)
    assert (enabled.status, enabled.disabled_at) == ("active", None)
    assert (await db.set_key_expiry("k2", None)).expires_at is None
    assert len(await db.list_keys("p1")) == 3
    with pytest.raises(NotFoundError):
        await db.update_key_status("nope", "disabled", now=NOW)
    with pytest.raises(NotFoundError):
        await db.set_key_expiry("nope", NOW)


async def test_rotate_key_is_one_step(db: SqlStore) -> None:
    await db.create_key(key("old"))
    new = await db.rotate_key(key("new", rotated_from="old"), old_expires_at=NOW + 3600)
    assert (await db.get_key("new")) == new
    assert (await db.get_key("old")).expires_at == NOW + 3600  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        await db.rotate_key(key("newer", rotated_from="ghost"), old_expires_at=NOW)
    assert await db.get_key("newer") is None


async def test_delete_key(db: SqlStore) -> None:
    await db.create_key(key("k1"))
    await db.delete_key("k1")
    assert await db.get_key("k1") is None
    with pytest.raises(NotFoundError):
        await db.delete_key("k1")


# ---- rooms ------------------------------------------------------------------------------------


async def test_room_round_trip_by_id_and_custom_id(db: SqlStore) -> None:
    made, created = await db.create_room(
        room("abcd-efgh-ijkl", custom_id="standup", metadata={"topic": "daily"}, locked=True)
    )
    assert created
    assert await db.get_room("p1", "abcd-efgh-ijkl") == made
    assert await db.get_room("p1", "standup") == made
    assert await db.get_room("p2", "standup") is None


async def test_room_custom_id_is_idempotent_and_per_project(db: SqlStore) -> None:
    await db.create_project(project("p2"))
    first, created = await db.create_room(room(custom_id="standup"))
    revision = await db.state_revision()
    again, created_again = await db.create_room(room(custom_id="standup"))
    assert await db.state_revision() == revision  # a repeat writes nothing
    other, created_other = await db.create_room(room(project_id="p2", custom_id="standup"))
    assert created and not created_again and created_other
    assert again == first and other.id != first.id


async def test_room_custom_id_concurrent_creates_make_one_room(db: SqlStore) -> None:
    results = await asyncio.gather(*(db.create_room(room(custom_id="race")) for _ in range(10)))
    assert len({made.id for made, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    page, _ = await db.list_rooms("p1")
    assert len(page) == 1


async def test_room_duplicate_id_without_custom_id_conflicts(db: SqlStore) -> None:
    await db.create_room(room("aaaa-bbbb-cccc"))
    with pytest.raises(ConflictError):
        await db.create_room(room("aaaa-bbbb-cccc"))
    with pytest.raises(NotFoundError):
        await db.create_room(room(project_id="nope"))


async def test_room_pagination_walks_every_row_once(db: SqlStore) -> None:
    # several rooms share a created_at, so the cursor must break ties on id
    made = {(await db.create_room(room(created_at=NOW + i // 4)))[0].id for i in range(37)}
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = await db.list_rooms("p1", limit=5, cursor=cursor)
        seen += [r.id for r in page]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 37 and set(seen) == made
    newest_first = [(r.created_at, r.id) for r in (await db.list_rooms("p1", limit=100))[0]]
    assert newest_first == sorted(newest_first, reverse=True)


@pytest.mark.parametrize("cursor", ["garbage!", "WzFd", "WyJhIiwxXQ", "bnVsbA"])
async def test_room_bad_cursor_is_refused(db: SqlStore, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        await db.list_rooms("p1", cursor=cursor)


async def test_room_deactivate_is_idempotent(db: SqlStore) -> None:
    made, _ = await db.create_room(room())
    first = await db.deactivate_room("p1", made.id, now=NOW + 10)
    second = await db.deactivate_room("p1", made.id, now=NOW + 20)
    assert not first.active and first.deactivated_at == NOW + 10
    assert second == first
    await db.create_room(room())
    assert len(await db.list_all_rooms()) == 2
    assert len(await db.list_all_rooms(active_only=True)) == 1
    with pytest.raises(NotFoundError):
        await db.deactivate_room("p1", "zzzz-zzzz-zzzz", now=NOW)


# ---- roles ------------------------------------------------------------------------------------


async def test_role_upsert_keeps_created_at(db: SqlStore) -> None:
    first = await db.upsert_role(role("presenter"))
    updated = await db.upsert_role(
        role(
            "presenter",
            permissions={"can_produce": False},
            created_at=NOW + 50,
            updated_at=NOW + 50,
        )
    )
    assert first == role("presenter")
    assert updated.created_at == NOW and updated.updated_at == NOW + 50
    assert updated.permissions == {"can_produce": False}
    assert await db.get_role("p1", "presenter") == updated
    with pytest.raises(NotFoundError):
        await db.upsert_role(role(project_id="nope"))


async def test_role_list_and_delete(db: SqlStore) -> None:
    for name in ("viewer", "host", "x" * 20):
        await db.upsert_role(role(name))
    assert [r.name for r in await db.list_roles("p1")] == ["host", "viewer", "x" * 20]
    await db.delete_role("p1", "host")
    assert await db.get_role("p1", "host") is None
    with pytest.raises(NotFoundError):
        await db.delete_role("p1", "host")


# ---- revocations ------------------------------------------------------------------------------


async def test_revocations_add_lift_and_list(db: SqlStore) -> None:
    by_jti = await db.add_revocation(revocation("r1", reason="leaked"))
    by_identity = await db.add_revocation(
        revocation("r2", kind="identity", jti=None, identity="mallory", room="abcd-efgh-ijkl")
    )
    before = await db.add_revocation(
        revocation("r3", kind="issued_before", jti=None, issued_before=NOW)
    )
    assert await db.list_revocations("p1") == [by_jti, by_identity, before]
    lifted = await db.lift_revocation("p1", "r2", now=NOW + 1)
    assert lifted.lifted_at == NOW + 1
    assert (await db.lift_revocation("p1", "r2", now=NOW + 9)).lifted_at == NOW + 1
    assert [r.id for r in await db.list_revocations("p1")] == ["r1", "r3"]
    assert len(await db.list_revocations("p1", include_lifted=True)) == 3
    with pytest.raises(NotFoundError):
        await db.lift_revocation("p1", "nope", now=NOW)
    with pytest.raises(ConflictError):
        await db.add_revocation(revocation("r1"))


async def test_revocations_active_and_purge(db: SqlStore) -> None:
    await db.add_revocation(revocation("short", expires_at=NOW + 10))
    await db.add_revocation(revocation("long", expires_at=NOW + 1000))
    await db.add_revocation(revocation("lifted", expires_at=NOW + 1000))
    await db.lift_revocation("p1", "lifted", now=NOW)
    assert {r.id for r in await db.list_active_revocations(NOW)} == {"short", "long"}
    assert [r.id for r in await db.list_active_revocations(NOW + 10)] == ["long"]
    assert await db.purge_revocations(NOW + 10) == 1
    assert len(await db.list_revocations("p1", include_lifted=True)) == 2


# ---- audit ------------------------------------------------------------------------------------


async def test_audit_batch_of_1000_in_one_call(db: SqlStore) -> None:
    rows = [audit(identity=f"user{i % 10}", room=f"room{i % 4}") for i in range(1000)]
    await db.insert_audit_many(rows)
    assert await db.count_audit("p1") == 1000
    assert await db.count_audit("p1", identity="user3") == 100
    assert await db.count_audit("p1", room="room1", identity="user3") == 50
    await db.insert_audit_many([])
    assert await db.count_audit("p1") == 1000


async def test_audit_duplicate_jti_conflicts_and_writes_nothing(db: SqlStore) -> None:
    await db.insert_audit_many([audit("jti-1")])
    with pytest.raises(ConflictError):
        await db.insert_audit_many([audit("jti-2"), audit("jti-1"), audit("jti-3")])
    with pytest.raises(ConflictError):
        await db.insert_audit_many([audit("jti-4"), audit("jti-4")])
    assert await db.count_audit("p1") == 1


async def test_audit_filters_by_key_and_issue_time(db: SqlStore) -> None:
    rows = [audit(f"k{i}", kid="K1" if i < 6 else "K2", issued_at=NOW + i) for i in range(10)]
    await db.insert_audit_many(rows)
    by_key, _ = await db.list_audit("p1", kid="K2")
    assert sorted(r.jti for r in by_key) == ["k6", "k7", "k8", "k9"]
    window, _ = await db.list_audit("p1", issued_from=NOW + 2, issued_until=NOW + 4)
    assert [r.jti for r in window] == ["k4", "k3", "k2"]  # newest first, bounds inclusive
    both, _ = await db.list_audit("p1", kid="K1", issued_from=NOW + 5)
    assert [r.jti for r in both] == ["k5"]


async def test_audit_pagination_with_filters(db: SqlStore) -> None:
    await db.insert_audit_many([audit(f"j{i}", room="r1" if i % 2 else "r2") for i in range(25)])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = await db.list_audit("p1", limit=4, cursor=cursor, room="r1")
        seen += [row.jti for row in page]
        if cursor is None:
            break
    assert seen == [f"j{i}" for i in range(23, 0, -2)]
    first = (await db.list_audit("p1", limit=1))[0][0]
    assert first.id is not None and dataclasses.replace(first, id=None) == audit("j24", room="r2")
    with pytest.raises(InvalidCursorError):
        await db.list_audit("p1", cursor="WyJ4Il0")


async def test_audit_batch_is_one_transaction(db: SqlStore) -> None:
    lane = db._audit_lane
    if lane is not None:  # SQLite files: the group commit runs on the lane's own connections
        statements: list[str] = []
        lane._loop_connection().set_trace_callback(statements.append)
        await asyncio.get_running_loop().run_in_executor(
            lane._executor, lambda: lane._connection().set_trace_callback(statements.append)
        )
        await db.insert_audit_many([audit() for _ in range(300)])
        assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("COMMIT") == 1
        assert sum(s.startswith("INSERT INTO audit") for s in statements) == 300
        return
    commits: list[object] = []
    listener = commits.append
    event.listen(db._engine.sync_engine, "commit", listener)
    try:
        await db.insert_audit_many([audit() for _ in range(300)])
    finally:
        event.remove(db._engine.sync_engine, "commit", listener)
    assert len(commits) == 1


async def test_state_revision_moves_with_every_state_write_and_not_with_the_audit(
    db: SqlStore,
) -> None:
    seen = [await db.state_revision()]

    async def moved() -> bool:
        seen.append(await db.state_revision())
        return seen[-1] > seen[-2]

    await db.create_key(key("k2"))
    assert await moved()
    await db.create_room(room(custom_id="weekly"))
    assert await moved()
    await db.upsert_role(role("host"))
    assert await moved()
    await db.add_revocation(revocation("r9"))
    assert await moved()
    await db.update_project_settings("p1", ProjectSettings(default_ttl_s=60))
    assert await moved()
    await db.insert_audit_many([audit() for _ in range(3)])
    assert not await moved()  # the audit log is not state a node keeps in memory
    await db.purge_revocations(NOW)
    assert not await moved()  # memory prunes expired revocations by itself
    with pytest.raises(ConflictError):
        await db.create_key(key("k2"))
    assert not await moved()  # a write that fails changes nothing
