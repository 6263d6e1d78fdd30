"""The bulk loader of a node's start gives the same rules as the record listing, on both
databases: every kind, the latest of two rules for one jti, reasons with any text in them."""

from __future__ import annotations

import pytest
from store_factories import NOW, project, revocation

from roomkey.revocation import InMemoryRevocations
from roomkey.service.state import to_rule
from roomkey.store import RevocationRecord, SqlStore


@pytest.fixture
async def db(store: SqlStore) -> SqlStore:
    await store.create_project(project("p1"))
    await store.create_project(project("p2"))
    return store


async def seed(db: SqlStore) -> None:
    rows = [
        revocation("j1", jti="a", reason="leaked, then \t sold\nagain"),
        revocation("j2", jti="b,c", created_at=NOW - 5),
        revocation("j3", jti="b,c", created_at=NOW, reason="the later one"),  # same target
        revocation("j4", jti="old", expires_at=NOW - 1),  # past: not loaded
        revocation("j5", jti="lifted"),
        # the separator of the joined columns (PostgreSQL): read again as arrays
        revocation("j6", jti="sep\x01arated", reason="one\x01two"),
        revocation("i1", kind="identity", jti=None, identity="mallory", room="r1"),
        revocation("i2", kind="identity", jti=None, identity="eve"),
        revocation("r1", kind="room", jti=None, room="standup"),
        revocation("k1", kind="key", jti=None, kid="key_1"),
        revocation("b1", kind="issued_before", jti=None, issued_before=NOW - 60),
        revocation("p", project_id="p2", jti="a"),
    ]
    for row in rows:
        await db.add_revocation(row)
    await db.lift_revocation("p1", "j5", now=NOW)


def by_records(records: list[RevocationRecord], project_id: str) -> InMemoryRevocations:
    table = InMemoryRevocations()
    for record in records:
        if record.project_id == project_id:
            table.add(to_rule(record))
    return table


def key(rule: object) -> str:
    return repr(rule)


async def test_the_bulk_load_equals_the_listing(db: SqlStore) -> None:
    await seed(db)
    loaded = await db.load_active_revocations(NOW)
    assert set(loaded) == {"p1", "p2"}
    records = await db.list_active_revocations(NOW)
    for project_id, active in loaded.items():
        table = InMemoryRevocations()
        table.load(active.jtis, active.jti_rules, active.others)
        expected = by_records(records, project_id)
        assert sorted(map(key, table.rules())) == sorted(map(key, expected.rules()))
        assert len(table) == len(expected)
    p1 = loaded["p1"]
    assert sorted(p1.jtis) == ["a", "b,c", "b,c", "sep\x01arated"]  # two rules: twice
    table = InMemoryRevocations()
    table.load(p1.jtis, p1.jti_rules, p1.others)
    assert [r.id for r in table.rules() if r.value == "b,c"] == ["j3"]
    assert [r.reason for r in table.rules() if r.id == "j1"] == ["leaked, then \t sold\nagain"]


async def test_nothing_active_loads_nothing(db: SqlStore) -> None:
    assert await db.load_active_revocations(NOW) == {}


async def test_a_database_of_one_project_loads_the_same(store: SqlStore) -> None:
    await store.create_project(project("p1"))
    await store.add_revocation(revocation("j1", jti="a", created_at=NOW - 5))
    await store.add_revocation(revocation("j2", jti="a", created_at=NOW))  # the later one
    await store.add_revocation(revocation("j3", jti="b", reason="x,y"))
    await store.add_revocation(revocation("r1", kind="room", jti=None, room="standup"))

    async def same_as_listed() -> list[str]:
        loaded = await store.load_active_revocations(NOW)
        table = InMemoryRevocations()
        table.load(loaded["p1"].jtis, loaded["p1"].jti_rules, loaded["p1"].others)
        expected = by_records(await store.list_active_revocations(NOW), "p1")
        assert sorted(map(key, table.rules())) == sorted(map(key, expected.rules()))
        return sorted(str(r.id) for r in table.rules())

    assert await same_as_listed() == ["j2", "j3", "r1"]
    # the separator of the joined columns in a value: read again as rows
    await store.add_revocation(revocation("j4", jti="c", reason="one\x01two"))
    assert await same_as_listed() == ["j2", "j3", "j4", "r1"]
