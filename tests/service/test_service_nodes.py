"""Several nodes on one database: changes made on one reach the others by reload, and a
reload never leaves a window where the verifier sees an empty key ring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from service_support import Clock, caller_of, make_settings

from roomkey.service import RoomkeyService, TokenRequest
from roomkey.store import KeyRecord, open_store


async def test_changes_on_one_node_reach_another_on_reload(open_node: Any) -> None:
    a: RoomkeyService = await open_node()
    b: RoomkeyService = await open_node()
    caller = caller_of(a)
    token = (await a.tokens.issue(caller, TokenRequest(identity="eve", room="r"), "x")).token
    assert b.tokens.verify(token).valid  # same key, loaded by b from the database
    await a.revocations.revoke(caller.project_id, identity="eve")
    record, _ = await a.keys.create_api_key(caller.project_id, "made on a")
    assert b.tokens.verify(token).valid  # b hasn't refreshed yet
    await b.reload()
    outcome = b.tokens.verify(token)
    assert outcome.error is not None and outcome.error.code == "revoked"
    assert record.kid in b.ctx.state.keys


async def test_reload_never_exposes_an_empty_key_ring(tmp_path: Path, clock: Clock) -> None:
    """While the reload waits on the database, a concurrent verify must still succeed."""
    store = ProbingStore(await open_store(f"sqlite:///{tmp_path / 'rk.db'}"))
    service = await RoomkeyService.open(make_settings(tmp_path), store=store, clock=clock)  # type: ignore[arg-type]
    try:
        token = (
            await service.tokens.issue(caller_of(service), TokenRequest(identity="a"), "x")
        ).token
        store.probe = lambda: service.tokens.verify(token).valid
        await service.reload()
        assert store.seen == [True]
    finally:
        await service.close()


class ProbingStore:
    """The real store; while keys are being fetched it runs a probe (a concurrent request)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.probe: Any = None
        self.seen: list[bool] = []

    async def list_all_active_keys(self, *, now: int | None = None) -> list[KeyRecord]:
        if self.probe is not None:
            self.seen.append(self.probe())
        records: list[KeyRecord] = await self.inner.list_all_active_keys(now=now)
        return records

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_revocation_made_during_a_reload_is_not_lost(tmp_path: Path, clock: Clock) -> None:
    """A refresh reads the database, then swaps; a revocation accepted in between must stay."""
    store = PausingStore(await open_store(f"sqlite:///{tmp_path / 'rk.db'}"))
    service = await RoomkeyService.open(make_settings(tmp_path), store=store, clock=clock)  # type: ignore[arg-type]
    try:
        caller = caller_of(service)
        token = (await service.tokens.issue(caller, TokenRequest(identity="eve"), "x")).token
        store.pause = asyncio.Event()
        reload = asyncio.create_task(service.reload())
        await store.paused.wait()  # the reload has read revocations and is still loading keys
        revoke = asyncio.create_task(service.revocations.revoke(caller.project_id, identity="eve"))
        await asyncio.sleep(0)  # let the revocation run as far as it can
        store.pause.set()
        await asyncio.gather(reload, revoke)
        outcome = service.tokens.verify(token)
        assert outcome.error is not None and outcome.error.code == "revoked"
    finally:
        await service.close()


class PausingStore:
    """The real store; a reload can be held between reading revocations and reading keys."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pause: asyncio.Event | None = None
        self.paused = asyncio.Event()

    async def list_all_active_keys(self, *, now: int | None = None) -> list[KeyRecord]:
        if self.pause is not None:
            self.paused.set()
            await self.pause.wait()
        records: list[KeyRecord] = await self.inner.list_all_active_keys(now=now)
        return records

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_refresh_reloads_only_when_the_stored_state_changed(open_node: Any) -> None:
    a: RoomkeyService = await open_node()
    b: RoomkeyService = await open_node()
    caller = caller_of(a)
    token = (await a.tokens.issue(caller, TokenRequest(identity="eve", room="r"), "x")).token
    await b.refresh()  # a's room and bootstrap happened after b loaded
    assert await b.refresh() is False  # nothing changed since: one query, no reload
    for _ in range(3):
        await a.tokens.issue(caller, TokenRequest(identity="eve", room="r"), "x")
    assert await b.refresh() is False  # issuing (and its audit) is not a state change
    await a.revocations.revoke(caller.project_id, identity="eve")
    assert await b.refresh() is True
    outcome = b.tokens.verify(token)
    assert outcome.error is not None and outcome.error.code == "revoked"
    assert await b.refresh() is False
    record, _ = await a.keys.create_api_key(caller.project_id, "made on a")
    assert await b.refresh() is True and record.kid in b.ctx.state.keys


async def test_a_bootstrap_only_open_skips_revocations_and_background_tasks(
    tmp_path: Path, clock: Clock
) -> None:
    first = await RoomkeyService.open(make_settings(tmp_path), clock=clock)
    try:
        assert first.bootstrap is not None  # the first start creates the project
        await first.revocations.revoke(caller_of(first).project_id, identity="eve")
    finally:
        await first.close()
    prep = await RoomkeyService.open(make_settings(tmp_path), clock=clock, bootstrap_only=True)
    try:
        assert prep.bootstrap is None  # the project exists: nothing to print again
        assert all(len(p.revocations) == 0 for p in prep.ctx.state.projects.values())
        assert prep._housekeeper is None and not prep._feed_started
    finally:
        await prep.close()
    node = await RoomkeyService.open(make_settings(tmp_path), clock=clock)
    try:
        assert sum(len(p.revocations) for p in node.ctx.state.projects.values()) == 1
    finally:
        await node.close()
