"""Fixtures for the API suite: the real app over a real service on SQLite, called in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_support import Clock, make_settings
from fastapi import FastAPI

from roomkey.api.app import create_app
from roomkey.service import Bootstrap, RoomkeyService


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RoomkeyService]:
    """A bootstrapped service on SQLite (real time: the app's own clock)."""
    node = await RoomkeyService.open(make_settings(tmp_path, max_body_bytes=4096))
    try:
        yield node
    finally:
        await node.close()


@pytest.fixture
def app(service: RoomkeyService) -> FastAPI:
    return create_app(service=service)


@pytest.fixture
def boot(service: RoomkeyService) -> Bootstrap:
    assert service.bootstrap is not None
    return service.bootstrap


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://roomkey.test") as c:
        yield c


@pytest.fixture
def auth(boot: Bootstrap) -> dict[str, str]:
    """Headers of the bootstrap admin (server scope)."""
    return {"Authorization": f"Bearer {boot.admin_token}"}


@pytest.fixture
def clock() -> Clock:
    return Clock()
