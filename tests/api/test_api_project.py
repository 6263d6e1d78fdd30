"""The project routes while a reload of the state runs: no change is swapped away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from roomkey.keys import HmacKey
from roomkey.minting import TokenMinter
from roomkey.service import RoomkeyService
from roomkey.service.context import WriteLock


class CountingLock(WriteLock):
    """The service's lock, saying when a second task comes for it (the first is the reload);
    the task holding it may take it again, as with the real one."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.second = asyncio.Event()

    async def __aenter__(self) -> None:
        if self._owner is not asyncio.current_task():
            self.attempts += 1
            if self.attempts == 2:
                self.second.set()
        await super().__aenter__()


async def during_a_reload(
    service: RoomkeyService,
    monkeypatch: pytest.MonkeyPatch,
    writes: str,
    send: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response:
    """Send a request while a reload has read the projects but not swapped them in yet.

    The request either waits for the reload's lock, or (unguarded) calls the store's ``writes``
    method meanwhile; the reload then swaps in what it read before.
    """
    store, lock = service.ctx.store, CountingLock()
    monkeypatch.setattr(service.ctx, "write_lock", lock)
    list_projects, write = store.list_projects, getattr(store, writes)
    loaded, swap, written = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def list_then_wait() -> Any:
        rows = await list_projects()
        loaded.set()
        await swap.wait()
        return rows

    async def write_and_tell(*args: Any) -> Any:
        written.set()
        return await write(*args)

    monkeypatch.setattr(store, "list_projects", list_then_wait)
    monkeypatch.setattr(store, writes, write_and_tell)
    reload = asyncio.create_task(service.reload())
    await loaded.wait()
    response = asyncio.create_task(send())
    waits = [asyncio.create_task(e.wait()) for e in (lock.second, written)]
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    swap.set()
    await reload
    return await response


async def test_a_settings_change_is_not_lost_to_a_reload_running_meanwhile(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    service: RoomkeyService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    change = {"max_ttl_s": 600, "default_ttl_s": 300}
    response = await during_a_reload(
        service,
        monkeypatch,
        "update_project_settings",
        lambda: client.patch("/v1/project", json=change, headers=auth),
    )
    assert response.status_code == 200
    shown = (await client.get("/v1/project", headers=auth)).json()["settings"]
    assert (shown["max_ttl_s"], shown["default_ttl_s"]) == (600, 300)


async def test_a_new_project_is_not_lost_to_a_reload_running_meanwhile(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    service: RoomkeyService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await during_a_reload(
        service,
        monkeypatch,
        "create_project",
        lambda: client.post("/v1/projects", json={"name": "second"}, headers=auth),
    )
    assert response.status_code == 201
    created = response.json()
    minted = await client.post(
        "/v1/tokens",
        json={"identity": "ann"},
        headers={"Authorization": f"Bearer {_server_token(service, created)}"},
    )
    assert minted.status_code == 201, minted.text


def _server_token(service: RoomkeyService, created: dict[str, str]) -> str:
    """A server token signed with the new project's first API key."""
    key = HmacKey(created["api_key"], created["api_secret"])
    minter = TokenMinter(key, "native")
    permissions = {"scope": ["api"], "capabilities": ["admin"]}
    return minter.mint(identity="admin", permissions=permissions, ttl=600).token
