"""``GET /v1/rooms/{room}/events`` over a real uvicorn server with real WebSocket clients (the
``websockets`` library): the route wires the stream protocol to ``service.admission`` and to
the caller pipeline for watchers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from live_support import TestAdmission, live_server
from roomkey.api.app import create_app
from roomkey.capabilities import Capability
from roomkey.service import Bootstrap, RoomkeyService
from roomkey.service.admission import EventType
from roomkey.service.admission.events import ADMITTERS, only

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
WAIT_S = 10.0  # a deadline for a loaded machine, not a timing assertion


@pytest.fixture
def admission(service: RoomkeyService, boot: Bootstrap) -> TestAdmission:
    live = TestAdmission(boot.project_id)
    service.admission = live  # type: ignore[attr-defined]
    return live


@pytest.fixture
async def ws_url(service: RoomkeyService, admission: TestAdmission) -> AsyncIterator[str]:
    async with live_server(create_app(service=service)) as url:
        yield url.replace("http://", "ws://") + "/v1/rooms/r/events"


def _open(url: str, **headers: str) -> connect:
    return connect(url, additional_headers=headers or None, proxy=None, open_timeout=WAIT_S)


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    return message


async def _closed(ws: ClientConnection) -> int | None:
    """The close code, after reading whatever came before it."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), WAIT_S)
    return ws.close_code


async def test_a_session_authenticates_by_first_message_and_receives_events(
    ws_url: str, admission: TestAdmission
) -> None:
    session, credential = admission.join("host", admin=True)
    async with _open(ws_url) as ws:
        await ws.send(orjson.dumps({"type": "auth", "session_token": credential}).decode())
        ready = await _next(ws)
        assert ready["type"] == "ready" and ready["session_id"] == session.id
        admission.publish(EventType.PARTICIPANT_JOINED, identity="guest")
        event = await _next(ws)
        assert (event["type"], event["seq"], event["room"]) == ("participant_joined", 1, "r")
        await ws.send('{"type": "ping"}')
        assert (await _next(ws))["type"] == "pong"
    for _ in range(100):
        if admission.detached:
            break
        await asyncio.sleep(0.01)
    assert admission.attached == admission.detached == [session.id]


async def test_the_authorization_header_and_since_resume(
    ws_url: str, admission: TestAdmission
) -> None:
    _, credential = admission.join("host")
    for n in range(3):
        admission.publish(EventType.MUTED, n=n)
    async with _open(f"{ws_url}?since=1", Authorization=f"Bearer {credential}") as ws:
        assert (await _next(ws))["last_seq"] == 3
        assert [(await _next(ws))["seq"] for _ in range(2)] == [2, 3]


async def test_a_credential_in_the_url_is_not_read(ws_url: str, admission: TestAdmission) -> None:
    _, credential = admission.join("host")
    async with _open(f"{ws_url}?session_token={credential}") as ws:
        assert (await _next(ws))["error"] == "invalid_session"  # the auth deadline passed
        assert await _closed(ws) == 4408


async def test_a_bad_since_is_4400(ws_url: str, admission: TestAdmission) -> None:
    _, credential = admission.join("host")
    async with _open(f"{ws_url}?since=-3", Authorization=f"Bearer {credential}") as ws:
        assert (await _next(ws))["error"] == "bad_frame"
        assert await _closed(ws) == 4400


async def test_a_forged_credential_is_4401(ws_url: str, admission: TestAdmission) -> None:
    async with _open(ws_url, Authorization="Bearer rks1.eyJzaWQiOiJ4In0.AAAA") as ws:
        assert (await _next(ws))["error"] == "invalid_session"
        assert await _closed(ws) == 4401


async def test_only_the_sessions_own_events_reach_a_waiting_participant(
    ws_url: str, admission: TestAdmission
) -> None:
    guest, credential = admission.join("guest", join="ask")
    async with _open(ws_url, Authorization=f"Bearer {credential}") as ws:
        assert (await _next(ws))["status"] == "waiting"
        admission.publish(EventType.LOBBY_KNOCK, audience=ADMITTERS, identity="other")
        admission.publish(EventType.PARTICIPANT_JOINED, identity="someone")
        admission.publish(EventType.LOBBY_ADMITTED, audience=only(guest.id), session_id=guest.id)
        assert (await _next(ws))["type"] == "lobby_admitted"


async def test_an_oversize_frame_is_1009(ws_url: str, admission: TestAdmission) -> None:
    _, credential = admission.join("host")
    async with _open(ws_url, Authorization=f"Bearer {credential}") as ws:
        await _next(ws)
        await ws.send(orjson.dumps({"type": "ping", "pad": "x" * 8000}).decode())
        assert (await _next(ws))["error"] == "frame_too_large"
        assert await _closed(ws) == 1009


async def test_a_removed_session_is_closed_4409_after_its_event(
    ws_url: str, admission: TestAdmission
) -> None:
    guest, credential = admission.join("guest")
    async with _open(ws_url, Authorization=f"Bearer {credential}") as ws:
        await _next(ws)
        guest.status = guest.status.REMOVED
        admission.publish(EventType.REMOVED, audience=only(guest.id), session_id=guest.id)
        assert (await _next(ws))["type"] == "removed"
        assert await _closed(ws) == 4409


# ---- watchers: a server token with rooms:moderate -------------------------------------------


async def test_a_server_token_with_rooms_moderate_watches_what_admitters_see(
    ws_url: str, admission: TestAdmission, service: RoomkeyService, boot: Bootstrap
) -> None:
    token = service.admin_token(boot.project_id, capabilities=[Capability.ROOMS_MODERATE])
    async with _open(ws_url, Authorization=f"Bearer {token}") as ws:
        assert (await _next(ws))["status"] == "watching"
        admission.publish(EventType.MUTED, audience=only("ses_someone"))
        admission.publish(EventType.LOBBY_KNOCK, audience=ADMITTERS, identity="guest")
        event = await _next(ws)
        assert event["type"] == "lobby_knock" and event["seq"] == 2


async def test_a_server_token_without_rooms_moderate_is_4403(
    ws_url: str, service: RoomkeyService, boot: Bootstrap
) -> None:
    token = service.admin_token(boot.project_id, capabilities=[Capability.ROOMS_READ])
    async with _open(ws_url) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        frame = await _next(ws)
        assert frame["error"] == "forbidden" and frame["details"]["missing"] == "rooms:moderate"
        assert await _closed(ws) == 4403


async def test_a_repeated_authorization_header_is_refused(
    ws_url: str, admission: TestAdmission
) -> None:
    _, credential = admission.join("host")
    headers = [("Authorization", f"Bearer {credential}"), ("Authorization", "Bearer other")]
    async with connect(ws_url, additional_headers=headers, proxy=None) as ws:
        assert (await _next(ws))["error"] == "duplicate_header"
        assert await _closed(ws) == 4400


async def test_without_admission_the_route_closes_1011(
    service: RoomkeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "admission", None)  # a service built without live state
    async with (
        live_server(create_app(service=service)) as url,
        _open(url.replace("http", "ws") + "/v1/rooms/r/events") as ws,
    ):
        assert (await _next(ws))["error"] == "internal_error"
        assert await _closed(ws) == 1011


# ---- the reference documents the route --------------------------------------------------------


def test_the_api_reference_documents_the_websocket_route() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "## WebSocket: `GET /v1/rooms/{room}/events`" in text
    for code in ("4401", "4403", "4408", "4409", "4429", "1009", "1011", "1013"):
        assert f"| {code} |" in text
