"""Fixtures for the dashboard's in-process tests: signed-in clients, a service on a hand clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_support import Clock, make_settings
from dashboard_support import Timed, sign_in

from roomkey.api.app import create_app
from roomkey.service import Bootstrap, RoomkeyService


@pytest.fixture
async def admin(client: httpx.AsyncClient, boot: Bootstrap) -> httpx.AsyncClient:
    """The app's client, signed in with the bootstrap admin token."""
    answer = await sign_in(client, boot.admin_token)
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture
async def timed(tmp_path: Path) -> AsyncIterator[Timed]:
    clock = Clock()
    service = await RoomkeyService.open(make_settings(tmp_path), clock=clock)
    assert service.bootstrap is not None
    transport = httpx.ASGITransport(app=create_app(service=service))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://roomkey.test") as c:
            yield Timed(service, service.bootstrap, clock, c)
    finally:
        await service.close()
