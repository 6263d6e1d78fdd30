"""The change feed between nodes on one database: changes applied one at a time, in order,
through Redis or by reading the database, gaps filled, nothing lost, nothing applied twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from service_support import Clock, caller_of, make_settings, pg_execute

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_support import PrivateRedis, new_namespace, require_redis
from roomkey.service import RoomkeyService, TokenRequest
from roomkey.store import open_store
from roomkey.store.errors import StoreError

DEADLINE_S = 10.0


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"not within {DEADLINE_S} s: {what}"
        await asyncio.sleep(0.01)  # polling another node's state, not a fixed wait


def revoked(node: RoomkeyService, token: str) -> bool:
    outcome = node.tokens.verify(token)
    return outcome.error is not None and outcome.error.code == "revoked"


async def test_every_kind_of_change_reaches_the_other_node(open_node: Any) -> None:
    a: RoomkeyService = await open_node()
    b: RoomkeyService = await open_node()
    caller = caller_of(a)
    pid = caller.project_id
    room, _ = await a.rooms.create(pid, custom_id="boardroom")
    await a.roles.put(pid, "presenter", {"canPublish": True})
    record, _ = await a.keys.create_api_key(pid, "made on a")
    await a.bans.ban(pid, "boardroom", "mallory")
    await a.projects.update_settings(pid, {"max_ttl_s": 7200})
    await b.refresh()
    state = b.ctx.project(pid)
    assert state.room("boardroom") is not None and state.room(room.id) is not None
    assert "presenter" in state.roles and record.kid in b.ctx.state.keys
    assert state.ban_of("boardroom", "mallory") is not None
    assert state.record.settings.max_ttl_s == 7200
    await a.rooms.deactivate(pid, room.id)
    await a.roles.delete(pid, "presenter")
    await a.keys.disable(pid, record.kid)
    await a.bans.lift(pid, "boardroom", "mallory")
    await b.refresh()
    state = b.ctx.project(pid)
    assert state.room(room.id) is not None and not state.room(room.id).active  # type: ignore[union-attr]
    assert "presenter" not in state.roles and record.kid not in b.ctx.state.keys
    assert state.ban_of("boardroom", "mallory") is None
    assert b.feed.applied == await b.ctx.store.state_revision()
    assert b.feed.counters.full_reloads == 0


async def test_a_gap_is_filled_from_the_database_in_order(open_node: Any) -> None:
    # with several workers the feed runs on SQLite too; polling once a minute
    a: RoomkeyService = await open_node(workers=2, refresh_interval_s=60)
    b: RoomkeyService = await open_node(workers=2, refresh_interval_s=60)
    pid = caller_of(a).project_id
    await b.refresh()
    heard: list[Any] = []
    a.ctx.store.watch_changes(heard.extend)  # a's own feed hears nothing: only this test does
    token = (await a.tokens.issue(caller_of(a), TokenRequest(identity="eve"), "x")).token
    await a.revocations.revoke(pid, identity="eve")
    await a.revocations.revoke(pid, identity="mallory")
    start = b.feed.applied
    assert [c.rev for c in heard] == [start + 1, start + 2]
    b.feed.received([heard[1]])  # the announcement of the first change was lost
    await until(lambda: b.feed.applied == start + 2, "b applies both changes")
    assert revoked(b, token)
    assert b.feed.counters.applied_database == 2 and b.feed.counters.full_reloads == 0


async def test_a_node_behind_the_purged_feed_reloads_everything(open_node: Any) -> None:
    a: RoomkeyService = await open_node()
    b: RoomkeyService = await open_node()
    pid = caller_of(a).project_id
    await b.refresh()
    token = (await a.tokens.issue(caller_of(a), TokenRequest(identity="eve"), "x")).token
    await a.revocations.revoke(pid, identity="eve")
    await a.revocations.revoke(pid, identity="mallory")
    await a.ctx.store.purge_changes(time.time() + 60)  # all but the newest row
    assert await b.refresh() is False  # nothing applied one by one ...
    assert b.feed.counters.full_reloads == 1  # ... everything reloaded instead
    assert revoked(b, token)
    assert b.feed.applied == await b.ctx.store.state_revision()


async def test_a_revocation_applied_from_the_feed_reaches_the_listeners_once(
    open_node: Any,
) -> None:
    a: RoomkeyService = await open_node()
    b: RoomkeyService = await open_node()
    pid = caller_of(a).project_id
    heard_a: list[str] = []
    heard_b: list[str] = []
    a.revocations.listeners.append(lambda _p, rule: heard_a.append(str(rule.value)))
    b.revocations.listeners.append(lambda _p, rule: heard_b.append(str(rule.value)))
    await a.revocations.revoke(pid, identity="eve")
    await a.refresh()  # a's own change, read back: no second call
    await b.refresh()
    await b.refresh()
    assert heard_a == ["eve"] and heard_b == ["eve"]


@pytest.fixture
def pg_nodes(tmp_path: Path, clock: Clock, pg_url: str) -> Any:
    """Opens nodes on one PostgreSQL schema with the settings given (Redis among them)."""
    schema = f"rk_feed_{secrets.token_hex(4)}"
    nodes: list[RoomkeyService] = []

    async def open_one(**overrides: object) -> RoomkeyService:
        settings = make_settings(tmp_path, database_url=pg_url, **overrides)
        store = await open_store(pg_url, schema=schema)
        node = await RoomkeyService.open(settings, store=store, clock=clock)
        nodes.append(node)
        return node

    async def close_all() -> None:
        for node in reversed(nodes):
            with contextlib.suppress(StoreError):
                await node.close()

    open_one.close_all = close_all  # type: ignore[attr-defined]
    open_one.schema = schema  # type: ignore[attr-defined]
    return open_one


async def _drop(pg_url: str, schema: str) -> None:
    await pg_execute(pg_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def test_with_redis_a_revocation_arrives_without_polling(pg_nodes: Any, pg_url: str) -> None:
    url, namespace = require_redis(), new_namespace()
    try:
        # polling once a minute: what arrives sooner came through Redis
        opts = {"redis_url": url, "redis_namespace": namespace, "refresh_interval_s": 60}
        a: RoomkeyService = await pg_nodes(**opts)
        b: RoomkeyService = await pg_nodes(**opts)
        await until(lambda: b.feed.redis == "connected" and a.feed.redis == "connected", "redis")
        await b.refresh()
        token = (await a.tokens.issue(caller_of(a), TokenRequest(identity="eve"), "x")).token
        await a.revocations.revoke(caller_of(a).project_id, identity="eve")
        await until(lambda: revoked(b, token), "b refuses the revoked token")
        assert b.feed.counters.applied_announced >= 1
        assert (await b.check_ready())["feed"] == {
            "revision": b.feed.applied,
            "redis": "connected",
            "mode": "redis",
            "poll_interval_s": 60.0,
        }
    finally:
        await pg_nodes.close_all()
        await _drop(pg_url, pg_nodes.schema)


async def test_while_redis_is_down_nodes_poll_and_recover(
    pg_nodes: Any, pg_url: str, tmp_path: Path
) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        opts = {"redis_url": redis.url, "redis_namespace": "rk", "refresh_interval_s": 0.2}
        a: RoomkeyService = await pg_nodes(**opts)
        b: RoomkeyService = await pg_nodes(**opts)
        await until(lambda: b.feed.redis == "connected", "b connects")
        redis.stop()
        await until(lambda: b.feed.redis == "down" and a.feed.redis == "down", "seen down")
        assert (await b.check_ready())["feed"]["mode"] == "polling"  # type: ignore[index]
        token = (await a.tokens.issue(caller_of(a), TokenRequest(identity="eve"), "x")).token
        await a.revocations.revoke(caller_of(a).project_id, identity="eve")
        await until(lambda: revoked(b, token), "b polls the revocation in")
        redis.start()
        await until(lambda: b.feed.redis == "connected" and a.feed.redis == "connected", "back")
        await a.revocations.revoke(caller_of(a).project_id, identity="mallory")
        await until(lambda: b.feed.applied == a.feed.applied, "b converges")
    finally:
        redis.stop()
        await pg_nodes.close_all()
        await _drop(pg_url, pg_nodes.schema)


async def test_an_older_change_applied_after_a_newer_one_files_the_newest_state(
    open_node: Any,
) -> None:
    a: RoomkeyService = await open_node()
    b: RoomkeyService = await open_node()
    pid = caller_of(a).project_id
    await b.refresh()
    heard: list[Any] = []
    a.ctx.store.watch_changes(heard.extend)
    room, _ = await a.rooms.create(pid, custom_id="late")
    record, _ = await a.keys.create_api_key(pid, "short-lived")
    await a.rooms.deactivate(pid, room.id)
    await a.keys.disable(pid, record.kid)
    created_room, created_key = heard[0], heard[1]
    # b hears the creations late, after both were undone: it files what is stored now
    await b.feed.applier.apply(created_room)
    await b.feed.applier.apply(created_key)
    found = b.ctx.project(pid).room(room.id)
    assert found is not None and found.active is False
    assert record.kid not in b.ctx.state.keys


async def test_a_node_started_while_redis_is_down_says_so_and_polls(
    pg_nodes: Any, pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="roomkey.feed")
    redis = PrivateRedis(tmp_path)  # its port, with nothing listening yet
    try:
        opts = {"redis_url": redis.url, "redis_namespace": "rk", "refresh_interval_s": 0.2}
        node: RoomkeyService = await pg_nodes(**opts)
        await until(lambda: "Redis unreachable" in caplog.text, "the outage is logged")
        assert (await node.check_ready())["feed"]["redis"] == "down"  # type: ignore[index]
        redis.start()
        await until(lambda: node.feed.redis == "connected", "it connects once Redis is up")
        assert "Redis connected" in caplog.text
    finally:
        redis.stop()
        await pg_nodes.close_all()
        await _drop(pg_url, pg_nodes.schema)
