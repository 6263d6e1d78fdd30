"""``roomkey rooms watch``: a room's events as JSON lines, from a real uvicorn server (in the
test's loop) with the event route over a test admission object; the command runs in a thread."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import invoke, one_error_line
from typer.testing import Result

from live_support import TestAdmission, live_server
from roomkey.api.app import create_app
from roomkey.capabilities import Capability
from roomkey.service import RoomkeyService, ServerSettings
from roomkey.service.admission import EventType, SessionStatus
from roomkey.service.admission.events import ADMITTERS, only

MASTER_KEY = base64.b64encode(b"w" * 32).decode()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RoomkeyService]:
    node = await RoomkeyService.open(ServerSettings(data_dir=tmp_path, master_key=MASTER_KEY))
    yield node
    await node.close()


@pytest.fixture
def admission(service: RoomkeyService) -> TestAdmission:
    assert service.bootstrap is not None
    live = TestAdmission(service.bootstrap.project_id)
    service.admission = live  # type: ignore[attr-defined]
    return live


@pytest.fixture
async def url(
    service: RoomkeyService, admission: TestAdmission, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with live_server(create_app(service=service)) as base:
        yield base


def _watch(url: str, *args: str) -> asyncio.Future[Result]:
    return asyncio.ensure_future(
        asyncio.to_thread(invoke, ["rooms", "watch", "r", "--server", url, *args])
    )


async def _subscribed(admission: TestAdmission) -> None:
    async with asyncio.timeout(5):
        while admission.bus.listeners(admission.project_id, "r") == 0:
            await asyncio.sleep(0.01)


def _lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_a_session_watches_until_it_ends(url: str, admission: TestAdmission) -> None:
    guest, credential = admission.join("guest")
    running = _watch(url, "--session-token", credential)
    await _subscribed(admission)
    admission.publish(EventType.PARTICIPANT_JOINED, identity="other")
    admission.publish(EventType.LOBBY_KNOCK, audience=ADMITTERS, identity="knocker")
    guest.status = SessionStatus.REMOVED
    admission.publish(EventType.REMOVED, audience=only(guest.id), session_id=guest.id)
    result = await asyncio.wait_for(running, 10)
    assert result.exit_code == 0, result.stderr
    events = _lines(result)
    # join: direct may admit (the seed's rule), so the knock reaches it too
    kinds = ["participant_joined", "lobby_knock", "removed"]
    assert [(e["seq"], e["type"]) for e in events] == list(enumerate(kinds, 1))
    assert credential not in result.stdout + result.stderr


async def test_a_server_caller_sees_what_admitters_see(
    url: str, admission: TestAdmission, service: RoomkeyService
) -> None:
    assert service.bootstrap is not None
    token = service.admin_token(
        service.bootstrap.project_id, capabilities=[Capability.ROOMS_MODERATE]
    )
    running = _watch(url, "--token", token, "--count", "1")
    await _subscribed(admission)
    admission.publish(EventType.MUTED, audience=only("ses_someone"))
    admission.publish(EventType.LOBBY_KNOCK, audience=ADMITTERS, identity="knocker")
    result = await asyncio.wait_for(running, 10)
    assert result.exit_code == 0, result.stderr
    assert [e["type"] for e in _lines(result)] == ["lobby_knock"]


async def test_since_replays_what_was_missed(url: str, admission: TestAdmission) -> None:
    _, credential = admission.join("host")
    for n in range(3):
        admission.publish(EventType.MUTED, n=n)
    result = await asyncio.wait_for(
        _watch(url, "--session-token", credential, "--since", "1", "--count", "2"), 10
    )
    assert [e["seq"] for e in _lines(result)] == [2, 3]


async def test_a_token_without_rooms_moderate_is_forbidden(
    url: str, service: RoomkeyService
) -> None:
    assert service.bootstrap is not None
    token = service.admin_token(service.bootstrap.project_id, capabilities=[Capability.ROOMS_READ])
    result = await asyncio.wait_for(_watch(url, "--token", token), 10)
    assert result.exit_code == 1
    assert one_error_line(result).endswith("[forbidden]")


async def test_an_unreachable_server_exits_2() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await asyncio.wait_for(
        _watch(f"http://127.0.0.1:{port}", "--session-token", "rks1.a.b"), 30
    )
    assert result.exit_code == 2
    assert one_error_line(result).endswith("[connection_error]")
