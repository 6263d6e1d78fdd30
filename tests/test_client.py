"""``roomkey.client`` against a real uvicorn server with the event route over a test admission
object: the event stream (first-message auth, resume after a drop, the lobby's decision,
watchers, the session's end) and the one error boundary (no httpx or websockets exception
reaches the caller).

The HTTP routes of admission (join, lobby, moderation, refresh, leave) are not in this tree yet:
the client's calls to them are checked here only for how their failures are translated.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.exceptions

import roomkey.client
from live_support import TestAdmission, live_server
from roomkey.api.app import create_app
from roomkey.capabilities import Capability
from roomkey.client import (
    ConnectionFailedError,
    NotJoinedError,
    RemoteError,
    RoomClient,
    WaitTimeoutError,
    server_error,
)
from roomkey.errors import ForbiddenError, InvalidSessionError, RoomkeyError
from roomkey.minting import AccessToken
from roomkey.service import RoomkeyService, ServerSettings
from roomkey.service.admission import EventType, SessionStatus
from roomkey.service.admission.bus import Subscription
from roomkey.service.admission.events import ADMITTERS, only

MASTER_KEY = base64.b64encode(b"k" * 32).decode()


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
async def url(service: RoomkeyService, admission: TestAdmission) -> AsyncIterator[str]:
    async with live_server(create_app(service=service)) as base:
        yield base


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


pytestmark = pytest.mark.usefixtures("no_proxy")


async def _take(events: Any, n: int) -> list[dict[str, Any]]:
    got = []
    async with asyncio.timeout(5):
        async for event in events:
            got.append(event)
            if len(got) == n:
                break
    return got


def test_the_public_surface() -> None:
    assert roomkey.client.__all__ == [
        "ClientError",
        "ConnectionFailedError",
        "JoinResult",
        "NotJoinedError",
        "RemoteError",
        "RoomClient",
        "StreamClosedError",
        "WaitTimeoutError",
        "error_for",
        "server_error",
    ]


# ---- events ---------------------------------------------------------------------------------


async def test_events_arrive_in_order(url: str, admission: TestAdmission) -> None:
    session, credential = admission.join("host", admin=True)
    async with RoomClient(url) as client:
        client.use_session("r", session.id, credential)
        events = client.events()
        first = asyncio.ensure_future(_take(events, 2))
        while not admission.attached:
            await asyncio.sleep(0.01)
        admission.publish(EventType.PARTICIPANT_JOINED, identity="a")
        admission.publish(EventType.MUTED, identity="a", sources=["mic"])
        got = await first
        await events.aclose()
    assert [(e["seq"], e["type"]) for e in got] == [(1, "participant_joined"), (2, "muted")]
    assert client.last_seq == 2


async def test_a_dropped_stream_resumes_with_since_and_misses_nothing(
    url: str, admission: TestAdmission
) -> None:
    session, credential = admission.join("host")
    subscriptions: list[Subscription] = []
    subscribe = admission.bus.subscribe

    def watched(*args: Any, **kwargs: Any) -> Subscription:
        subscriptions.append(subscribe(*args, **kwargs))
        return subscriptions[-1]

    admission.bus.subscribe = watched  # type: ignore[method-assign]
    async with RoomClient(url) as client:
        client.use_session("r", session.id, credential)
        events = client.events()
        taking = asyncio.ensure_future(_take(events, 600))
        while not admission.attached:
            await asyncio.sleep(0.01)
        # the server drops the socket as a slow consumer (1013) in the middle of 600 events
        # (forced here, so that the test does not hang on how much the socket buffers hold;
        # tests/service/admission/test_stream.py shows the overflow itself); the client
        # resumes from the last seq it saw
        for n in range(600):
            admission.publish(EventType.MUTED, n=n)
            if n == 300:
                for subscription in list(subscriptions):
                    subscription.overflowed = True
                    subscription.close()
        got = await taking
        await events.aclose()
    assert [e["seq"] for e in got] == list(range(1, 601))
    assert client.reconnects >= 1


async def test_wait_admitted_returns_the_admission_with_its_platform_token(
    url: str, admission: TestAdmission
) -> None:
    guest, credential = admission.join("guest", join="ask")
    async with RoomClient(url) as client:
        client.use_session("r", guest.id, credential)
        waiting = asyncio.ensure_future(client.wait_admitted(timeout_s=5))
        while not admission.attached:
            await asyncio.sleep(0.01)
        admission.publish(EventType.LOBBY_KNOCK, audience=ADMITTERS, session_id="ses_other")
        guest.status = SessionStatus.ADMITTED
        admission.publish(
            EventType.LOBBY_ADMITTED,
            audience=only(guest.id),
            session_id=guest.id,
            participant_token="lk.jwt",
        )
        admitted = await waiting
    assert admitted["participant_token"] == "lk.jwt"


async def test_an_admission_before_the_socket_opened_is_seen(service: RoomkeyService) -> None:
    # regression: the lobby_admitted event went by before the socket subscribed, and the
    # client waited for it until its timeout (here over the real admission service)
    boot = service.bootstrap
    assert boot is not None

    def token(identity: str, **permissions: Any) -> str:
        builder = AccessToken(boot.api_key, boot.api_secret).with_identity(identity)
        return builder.with_room("r").with_permissions(**permissions).to_jwt()

    async with (
        live_server(create_app(service=service)) as base,
        RoomClient(base) as host,
        RoomClient(base) as guest,
    ):
        await host.join("r", token("host", admin=True))
        knock = await guest.join("r", token("guest", join="ask"))
        await host.admit(knock.session_id)  # before the guest's socket is open
        admitted = await guest.wait_admitted(timeout_s=3)
    assert admitted["type"] == "lobby_admitted" and admitted["session_id"] == knock.session_id


async def test_a_rejection_is_an_error_with_the_servers_code(
    url: str, admission: TestAdmission
) -> None:
    guest, credential = admission.join("guest", join="ask")
    async with RoomClient(url) as client:
        client.use_session("r", guest.id, credential)
        waiting = asyncio.ensure_future(client.wait_admitted(timeout_s=5))
        while not admission.attached:
            await asyncio.sleep(0.01)
        guest.status = SessionStatus.REJECTED
        admission.publish(
            EventType.LOBBY_REJECTED, audience=only(guest.id), session_id=guest.id, reason="full"
        )
        with pytest.raises(RoomkeyError) as caught:
            await waiting
    assert caught.value.code == "rejected" and caught.value.message == "full"


async def test_no_decision_in_time_is_a_wait_timeout(url: str, admission: TestAdmission) -> None:
    guest, credential = admission.join("guest", join="ask")
    async with RoomClient(url) as client:
        client.use_session("r", guest.id, credential)
        with pytest.raises(WaitTimeoutError):
            await client.wait_admitted(timeout_s=0.3)


async def test_the_stream_ends_when_the_session_is_removed(
    url: str, admission: TestAdmission
) -> None:
    guest, credential = admission.join("guest")
    async with RoomClient(url) as client:
        client.use_session("r", guest.id, credential)
        events = client.events()
        taking = asyncio.ensure_future(_take(events, 10))
        while not admission.attached:
            await asyncio.sleep(0.01)
        guest.status = SessionStatus.REMOVED
        admission.publish(EventType.REMOVED, audience=only(guest.id), session_id=guest.id)
        got = await taking  # the iterator ended after one event: no reconnect
    assert [e["type"] for e in got] == ["removed"]
    assert client.ended == "session removed" and client.reconnects == 0


async def test_a_forged_session_is_invalid_session(url: str, admission: TestAdmission) -> None:
    async with RoomClient(url) as client:
        client.use_session("r", "ses_x", "rks1.eyJzaWQiOiJ4In0.AAAA")
        with pytest.raises(InvalidSessionError) as caught:
            await _take(client.events(), 1)
    assert caught.value.code == "invalid_session"


async def test_a_server_token_watches_the_room(
    url: str, admission: TestAdmission, service: RoomkeyService
) -> None:
    assert service.bootstrap is not None
    token = service.admin_token(
        service.bootstrap.project_id, capabilities=[Capability.ROOMS_MODERATE]
    )
    async with RoomClient(url, token=token) as client:
        events = client.events("r")
        taking = asyncio.ensure_future(_take(events, 1))
        while admission.bus.listeners(admission.project_id, "r") == 0:
            await asyncio.sleep(0.01)
        admission.publish(EventType.LOBBY_KNOCK, audience=ADMITTERS, identity="guest")
        assert (await taking)[0]["type"] == "lobby_knock"
        await events.aclose()


async def test_a_server_token_without_the_right_is_forbidden(
    url: str, admission: TestAdmission, service: RoomkeyService
) -> None:
    assert service.bootstrap is not None
    token = service.admin_token(service.bootstrap.project_id, capabilities=[Capability.ROOMS_READ])
    async with RoomClient(url, token=token) as client:
        with pytest.raises(ForbiddenError) as caught:
            await _take(client.events("r"), 1)
    assert caught.value.details["missing"] == "rooms:moderate"


# ---- one error boundary -----------------------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now


def _calls(client: RoomClient) -> list[Any]:
    return [
        lambda: client.join("r", "some.participant.token"),
        lambda: client.admit("ses_1"),
        lambda: client.reject("ses_1", "no"),
        lambda: client.mute("alice", ["mic"]),
        lambda: client.remove("alice", ban=True),
        lambda: client.refresh(),
        lambda: client.leave(),
        lambda: client.lobby(),
        lambda: client.participants(),
        lambda: _take(client.events(), 1),
    ]


@pytest.mark.parametrize("index", range(10))
async def test_an_unreachable_server_is_connection_failed_never_a_library_error(
    index: int,
) -> None:
    async with RoomClient(_dead_url(), max_reconnects=1) as client:
        client.use_session("r", "ses_1", "rks1.a.b")
        with pytest.raises(ConnectionFailedError) as caught:
            await _calls(client)[index]()
    assert not isinstance(
        caught.value.__cause__, httpx.HTTPError | websockets.exceptions.WebSocketException
    )


# what the real admission service answers each call made with a forged session and token
EXPECTED_REFUSALS = [
    "unauthorized",  # join: the participant token is no token
    *["invalid_session"] * 8,  # every session call: the credential does not verify
    "invalid_session",  # the event stream: the same, as an error frame
]


@pytest.mark.parametrize("index", range(10))
async def test_an_error_answer_is_the_roomkey_error_of_its_code(
    service: RoomkeyService, index: int
) -> None:
    async with live_server(create_app(service=service)) as base, RoomClient(base) as client:
        client.use_session("r", "ses_1", "rks1.a.b")
        with pytest.raises(RoomkeyError) as caught:
            await _calls(client)[index]()
    assert caught.value.code == EXPECTED_REFUSALS[index], caught.value
    assert not isinstance(caught.value, RemoteError)  # a code the client knows is its class


async def test_calls_that_need_a_session_say_so() -> None:
    async with RoomClient("http://127.0.0.1:1") as client:
        for call in (client.refresh, client.leave, client.lobby):
            with pytest.raises(NotJoinedError):
                await call()


def test_an_unknown_server_code_keeps_the_code() -> None:
    body = {"error": "a_future_code", "message": "later", "details": {"max": 2}}
    error = server_error(body, 403)
    assert isinstance(error, RemoteError)
    assert (error.code, error.message, error.details) == (
        "a_future_code",
        "later",
        {"status": 403, "max": 2},
    )
    assert error.to_dict()["error"] == "a_future_code"


def test_a_known_server_code_is_its_class() -> None:
    error = server_error({"error": "forbidden", "message": "no", "details": {"missing": "x"}}, 403)
    assert type(error) is ForbiddenError and error.details == {"missing": "x"}
    assert isinstance(server_error(b"<html>", 502), RemoteError)


@pytest.mark.parametrize("reply", ["[1, 2]", "not json"])
async def test_a_server_speaking_another_protocol_is_connection_failed(reply: str) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def answer(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send(reply)
        await ws.wait_closed()

    async with serve(answer, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with RoomClient(f"http://127.0.0.1:{port}", max_reconnects=1) as client:
            client.use_session("r", "ses_1", "rks1.a.b")
            with pytest.raises(ConnectionFailedError):
                await _take(client.events(), 1)
