"""Fixtures for the dashboard's tests: in process, signed-in clients and a service on a hand
clock; in a browser, a real ``roomkey serve`` and Debian's chromium, one of each per module
(a module's ``SERVER_ENV`` adds ``ROOMKEY_*`` settings to its server)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from api_support import Clock, make_settings
from browser_support import CHROMIUM_ARGS, Banner, Server, require_chromium, screenshot_dir
from dashboard_support import Timed, sign_in

from roomkey.api.app import create_app
from roomkey.service import Bootstrap, RoomkeyService

with contextlib.suppress(ImportError):  # require_chromium() says what is missing
    from playwright.sync_api import Browser, sync_playwright


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


# ---- browser tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    require_chromium()
    root = tmp_path_factory.mktemp("dashboard")
    (root / "logs").mkdir()
    env = dict(getattr(request.module, "SERVER_ENV", {}))
    proc = Server(data_dir=root / "data", log_dir=root / "logs", env=env)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def banner(server: Server) -> Banner:
    return Banner.read(server.data_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_dir(tmp_path_factory.mktemp("shots"))
