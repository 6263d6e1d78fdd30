"""The revocation preload of ``roomkey serve`` (roomkey.store.preload), on both databases: the
same rules as the store's own bulk load, the revision of the same snapshot, and nothing at
all (the service then loads by itself) when the schema is not at head or anything fails."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_factories import NOW, project, revocation
from store_support import Target, pg_execute

from roomkey.errors import ConfigurationError
from roomkey.store import SqlStore
from roomkey.store.migrate import VERSION_TABLE
from roomkey.store.preload import RevocationPreload


def preload_of(target: Target) -> RevocationPreload:
    return RevocationPreload(target.url, schema=target.schema, now=NOW)


async def test_the_preload_loads_what_the_store_loads_and_the_revision_it_reflects(
    store_url: Target, store: SqlStore
) -> None:
    await store.create_project(project("p1"))
    await store.create_project(project("p2"))
    rows = [
        revocation("j1", jti="a", reason="leaked, then sold"),
        revocation("j2", jti="b"),
        revocation("old", jti="c", expires_at=NOW - 1),  # past: not loaded
        revocation("i1", kind="identity", jti=None, identity="mallory"),
        revocation("q1", project_id="p2", jti="a"),
    ]
    for row in rows:
        await store.add_revocation(row)
    revision = await store.state_revision()
    loaded = await preload_of(store_url).take()
    assert loaded is not None and loaded.revision == revision
    assert loaded.revocations == await store.load_active_revocations(NOW)
    assert sorted(loaded.revocations["p1"].jtis) == ["a", "b"]
    await store.add_revocation(revocation("j3", jti="d"))  # after the snapshot
    later = await preload_of(store_url).take()
    assert later is not None and later.revision == revision + 1
    assert "d" in later.revocations["p1"].jtis


async def test_a_database_not_at_the_packaged_head_gives_no_preload(
    store_url: Target, store: SqlStore
) -> None:
    await store.create_project(project("p1"))
    await store.add_revocation(revocation("j1", jti="a"))
    assert await preload_of(store_url).take() is not None
    table = f"{store_url.schema}.{VERSION_TABLE}" if store_url.schema else VERSION_TABLE
    if store_url.schema is None:
        path = store_url.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.execute(f"UPDATE {table} SET version_num = '0001'")
    else:
        await pg_execute(store_url.url, f"UPDATE {table} SET version_num = '0001'")
    assert await preload_of(store_url).take() is None  # a migration is due: the service loads


async def test_a_missing_sqlite_file_gives_no_preload_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "roomkey.db"
    assert await RevocationPreload(f"sqlite:///{path}").take() is None
    assert not path.exists()


async def test_an_unreachable_database_gives_no_preload_quickly() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    preload = RevocationPreload(f"postgresql://postgres@127.0.0.1:{port}/nothing")
    assert await preload.take() is None
    assert time.monotonic() - start < 5


def test_a_url_the_store_refuses_gives_no_preload() -> None:
    assert RevocationPreload.begin("mysql://nobody@localhost/x") is None
    with pytest.raises(ConfigurationError, match="schema"):
        RevocationPreload("sqlite:///x.db", schema="rk")


async def test_the_preload_thread_imports_nothing(store_url: Target, store: SqlStore) -> None:
    await store.create_project(project("p1"))
    await store.add_revocation(revocation("j1", jti="a"))
    # in a fresh interpreter: every module the thread runs is imported before it starts, so it
    # never waits on (or deadlocks with) an import of the main thread's
    script = (
        "import sys\n"
        "from roomkey.store.preload import RevocationPreload\n"
        "before = set(sys.modules)\n"
        f"preload = RevocationPreload({store_url.url!r}, schema={store_url.schema!r})\n"
        "assert preload._result.result(timeout=60) is not None\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


async def test_a_one_project_database_preloads_every_rule_once(
    store_url: Target, store: SqlStore
) -> None:
    await store.create_project(project("p1"))
    for i in range(41):
        await store.add_revocation(revocation(f"j{i}", jti=f"t{i}", reason=f"r{i}"))
    await store.add_revocation(revocation("i1", kind="identity", jti=None, identity="eve"))
    loaded = await preload_of(store_url).take()
    assert loaded is not None
    mine, theirs = loaded.revocations["p1"], (await store.load_active_revocations(NOW))["p1"]
    pairs = sorted(zip(mine.jtis, mine.jti_rules, strict=True))
    assert pairs == sorted(zip(theirs.jtis, theirs.jti_rules, strict=True))
    assert len(pairs) == 41 and len(set(mine.jtis)) == 41 and len(mine.others) == 1
