"""The WebSocket protocol of a room's events, over an in-memory transport (a pair of queues):
authentication, resume and resync, forwarding by grant, inbound frames, floods, slow consumers,
and the session's end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from service_support import make_settings

from roomkey.capabilities import Capability
from roomkey.errors import InvalidSessionError
from roomkey.grants import Grant, JoinMode
from roomkey.service import RoomkeyService
from roomkey.service.admission import (
    Event,
    EventType,
    InMemoryBus,
    Session,
    SessionCredentials,
    SessionRegistry,
    SessionStatus,
)
from roomkey.service.admission.events import ADMITTERS, EVERYONE, only
from roomkey.service.admission.protocol import CloseCode, StreamLimits, TransportClosed
from roomkey.service.admission.stream import EventStream

WAIT_S = 2.0


@dataclass
class Pipe:
    """The test's transport: what the client sends, what the server sends, how it closed."""

    inbound: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    outbound: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    closed: tuple[int, str] | None = None
    stalled: bool = False

    async def receive_text(self) -> str:
        text = await self.inbound.get()
        if text is None:
            raise TransportClosed
        return text

    async def send_json(self, message: Mapping[str, Any]) -> None:
        await self.send_text(orjson.dumps(message).decode())

    async def send_text(self, text: str) -> None:
        if self.closed is not None:
            raise TransportClosed
        if self.stalled:
            await asyncio.Event().wait()  # a client that never reads
        self.outbound.put_nowait(orjson.loads(text))

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)

    def send(self, message: object) -> None:
        self.inbound.put_nowait(message if isinstance(message, str) else _text(message))

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbound.get(), WAIT_S)

    def drained(self) -> list[dict[str, Any]]:
        out = []
        while not self.outbound.empty():
            out.append(self.outbound.get_nowait())
        return out


def _text(message: object) -> str:
    return orjson.dumps(message).decode()


@dataclass
class Room:
    """A real bus, registry and credentials, and an EventStream over them."""

    bus: InMemoryBus = field(default_factory=InMemoryBus)
    registry: SessionRegistry = field(default_factory=SessionRegistry)
    credentials: SessionCredentials = field(default_factory=lambda: SessionCredentials(b"k" * 32))
    attached: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    limits: StreamLimits = field(default_factory=lambda: StreamLimits(auth_timeout_s=0.2))
    watcher: Any = None

    def authenticate_session(self, credential: str) -> Session:
        claim = self.credentials.check(credential, time.time())
        session = self.registry.get(claim.session_id)
        if session is None or not session.live:
            raise InvalidSessionError("the session is no longer live")
        return session

    def snapshot(self, session: Session | None) -> dict[str, Any]:
        people = self.registry.in_room("p", "r")
        return {"participants": [s.public() for s in people if s.status.live]}

    def stream(self) -> EventStream:
        return EventStream(
            self.bus,
            self.authenticate_session,
            self.snapshot,
            authorize_watcher=self.watcher,
            attach=lambda s: self.attached.append(s.id),
            detach=lambda s: self.detached.append(s.id),
            limits=self.limits,
        )

    def join(self, identity: str, *, room: str = "r", **grant: Any) -> tuple[Session, str]:
        status = SessionStatus.WAITING if grant.get("join") == JoinMode.ASK else None
        session = Session(
            id=f"ses_{identity}",
            project_id="p",
            room=room,
            identity=identity,
            grant=Grant(**grant),
            dialect="native",
            status=status or SessionStatus.ADMITTED,
            created_at=time.time(),
        )
        self.registry.add(session)
        return session, self.credentials.mint(session.id, "p", room, time.time())

    def publish(self, kind: EventType, audience: Any = EVERYONE, **data: Any) -> Event:
        return self.bus.publish(Event(kind, "r", time.time(), data, audience, project_id="p"))


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    yield Room()


async def _open(
    room: Room, header: str | None = None, since: int | None = None
) -> tuple[Pipe, asyncio.Task[None]]:
    pipe = Pipe()
    task = asyncio.ensure_future(room.stream().serve(pipe, "r", header, since))
    await asyncio.sleep(0)
    return pipe, task


async def _ready(room: Room, credential: str, since: int | None = None) -> tuple[Pipe, Any]:
    pipe, task = await _open(room)
    pipe.send({"type": "auth", "session_token": credential, "since": since})
    ready = await pipe.next()
    assert ready["type"] == "ready", ready
    return pipe, task


async def _ended(pipe: Pipe, task: asyncio.Task[None]) -> tuple[int, str]:
    await asyncio.wait_for(task, WAIT_S)
    assert pipe.closed is not None
    return pipe.closed


# ---- authentication ---------------------------------------------------------------------------


async def test_a_first_auth_message_opens_the_stream_and_events_follow(room: Room) -> None:
    host, credential = room.join("host", admin=True)
    pipe, task = await _ready(room, credential)
    room.publish(EventType.PARTICIPANT_JOINED, identity="guest")
    event = await pipe.next()
    assert event["type"] == "participant_joined" and event["seq"] == 1
    assert {"seq", "type", "room", "at"} <= set(event) and event["identity"] == "guest"
    assert room.attached == [host.id]
    pipe.inbound.put_nowait(None)  # the client goes away
    await asyncio.wait_for(task, WAIT_S)
    assert room.detached == [host.id]


async def test_the_authorization_header_opens_the_stream_too(room: Room) -> None:
    host, credential = room.join("host")
    pipe, task = await _open(room, header=f"Bearer {credential}")
    ready = await pipe.next()
    assert ready == {"type": "ready", "session_id": host.id, "status": "admitted", "last_seq": 0}
    task.cancel()


@pytest.mark.parametrize(
    "credential",
    ["", "rks1.forged.mac", "not-a-credential", "rks1." + "a" * 600],
)
async def test_a_bad_credential_is_an_error_frame_and_4401(room: Room, credential: str) -> None:
    pipe, task = await _open(room)
    pipe.send({"type": "auth", "session_token": credential})
    frame = await pipe.next()
    assert frame["type"] == "error" and frame["error"] == "invalid_session"
    assert set(frame) == {"type", "error", "message", "details"}
    assert (await _ended(pipe, task))[0] == CloseCode.UNAUTHORIZED
    assert room.attached == []


async def test_a_session_of_another_room_is_refused(room: Room) -> None:
    _, credential = room.join("host", room="elsewhere")
    pipe, task = await _open(room, header=f"Bearer {credential}")
    assert (await pipe.next())["error"] == "invalid_session"
    assert (await _ended(pipe, task))[0] == CloseCode.UNAUTHORIZED


async def test_an_ended_session_is_refused(room: Room) -> None:
    session, credential = room.join("host")
    session.status = SessionStatus.LEFT
    pipe, task = await _open(room, header=f"Bearer {credential}")
    assert (await pipe.next())["error"] == "invalid_session"
    assert (await _ended(pipe, task))[0] == CloseCode.UNAUTHORIZED


async def test_no_auth_message_in_time_closes_4408(room: Room) -> None:
    pipe, task = await _open(room)
    code, _ = await _ended(pipe, task)
    assert code == CloseCode.AUTH_TIMEOUT
    assert (await pipe.next())["error"] == "invalid_session"


@pytest.mark.parametrize(
    "first",
    [
        "{not json",
        "[1, 2]",
        '{"type": "ping"}',
        '{"type": "auth"}',
        '{"type": "auth", "session_token": "CRED", "since": -1}',
    ],
)
async def test_anything_but_an_auth_message_first_closes_4400(room: Room, first: str) -> None:
    _, credential = room.join("host")
    pipe, task = await _open(room)
    pipe.send(first.replace("CRED", credential))
    frame = await pipe.next()
    assert frame["type"] == "error" and frame["error"] == "bad_frame"
    assert (await _ended(pipe, task))[0] == CloseCode.BAD_FRAME


# ---- what a socket receives -------------------------------------------------------------------


async def test_a_waiting_participant_sees_only_its_own_decision(room: Room) -> None:
    guest, credential = room.join("guest", join=JoinMode.ASK)
    pipe, task = await _ready(room, credential)
    room.publish(EventType.PARTICIPANT_JOINED, identity="someone")
    room.publish(EventType.LOBBY_KNOCK, ADMITTERS, identity="another")
    guest.status = SessionStatus.ADMITTED
    room.publish(EventType.LOBBY_ADMITTED, only(guest.id), session_id=guest.id)
    assert (await pipe.next())["type"] == "lobby_admitted"
    assert pipe.drained() == []
    task.cancel()


async def test_knocks_reach_admitters_only(room: Room) -> None:
    _, host_credential = room.join("host", admin=True)
    _, member_credential = room.join("member", join=JoinMode.DIRECT)
    _, ask_credential = room.join("asker", join=JoinMode.ASK)
    host, host_task = await _ready(room, host_credential)
    member, member_task = await _ready(room, member_credential)
    asker, asker_task = await _ready(room, ask_credential)
    room.publish(EventType.LOBBY_KNOCK, ADMITTERS, identity="knocker")
    assert (await host.next())["type"] == "lobby_knock"
    assert (await member.next())["type"] == "lobby_knock"  # join: direct may admit (the seed)
    await asyncio.sleep(0.01)
    assert asker.drained() == []
    for task in (host_task, member_task, asker_task):
        task.cancel()


async def test_the_socket_closes_after_the_event_that_ends_its_session(room: Room) -> None:
    guest, credential = room.join("guest")
    pipe, task = await _ready(room, credential)
    guest.status = SessionStatus.REMOVED
    room.publish(EventType.REMOVED, only(guest.id), session_id=guest.id, reason="banned")
    assert (await pipe.next())["type"] == "removed"
    assert await _ended(pipe, task) == (CloseCode.ENDED, "session removed")
    assert room.detached == [guest.id]


async def test_events_queued_before_the_ending_one_are_all_sent(room: Room) -> None:
    # regression: the socket closed after the first event it sent once the session had ended,
    # so the removed event itself (queued behind it) never reached the participant
    guest, credential = room.join("guest")
    pipe, task = await _ready(room, credential)
    room.publish(EventType.PARTICIPANT_JOINED, identity="other")
    guest.status = SessionStatus.REMOVED
    room.publish(EventType.REMOVED, only(guest.id), session_id=guest.id)
    assert [(await pipe.next())["type"] for _ in range(2)] == ["participant_joined", "removed"]
    assert (await _ended(pipe, task))[0] == CloseCode.ENDED


async def test_a_session_that_left_closes_normally(room: Room) -> None:
    guest, credential = room.join("guest")
    pipe, task = await _ready(room, credential)
    guest.status = SessionStatus.LEFT
    room.publish(EventType.PARTICIPANT_LEFT, only(guest.id), session_id=guest.id)
    assert (await pipe.next())["type"] == "participant_left"
    assert (await _ended(pipe, task))[0] == CloseCode.NORMAL


# ---- resume -----------------------------------------------------------------------------------


async def test_since_replays_what_was_missed(room: Room) -> None:
    _, credential = room.join("host")
    for n in range(3):
        room.publish(EventType.MUTED, n=n)
    pipe, task = await _ready(room, credential, since=1)
    assert [(await pipe.next())["seq"] for _ in range(2)] == [2, 3]
    task.cancel()


async def test_the_query_strings_since_is_used_with_the_header(room: Room) -> None:
    _, credential = room.join("host")
    for n in range(3):
        room.publish(EventType.MUTED, n=n)
    pipe, task = await _open(room, header=f"Bearer {credential}", since=2)
    assert (await pipe.next())["type"] == "ready"
    assert (await pipe.next())["seq"] == 3
    task.cancel()


async def test_a_resume_longer_than_a_sockets_queue_is_delivered_whole(room: Room) -> None:
    # regression: the replay went through the usual queue (256), overflowed at once and closed
    # the socket as a slow consumer, so a client that missed 300 events could never catch up
    _, credential = room.join("host")
    for n in range(300):
        room.publish(EventType.MUTED, n=n)
    pipe, task = await _ready(room, credential, since=0)
    assert [(await pipe.next())["seq"] for _ in range(300)] == list(range(1, 301))
    assert pipe.closed is None
    task.cancel()


async def test_beyond_the_buffer_a_resync_carries_the_state(room: Room) -> None:
    room.bus = InMemoryBus(replay=2)
    host, credential = room.join("host")
    for n in range(5):
        room.publish(EventType.MUTED, n=n)
    pipe, task = await _ready(room, credential, since=0)
    resync = await pipe.next()
    assert resync["type"] == "resync" and resync["seq"] == 5
    assert [p["identity"] for p in resync["participants"]] == [host.identity]
    room.publish(EventType.MUTED, n=5)
    assert (await pipe.next())["seq"] == 6
    task.cancel()


async def test_a_since_the_room_never_reached_resyncs(room: Room) -> None:
    # regression: after a restart the room's counter starts again at 1, and a client resuming
    # from its old seq 500 would have silently missed everything up to 500
    _, credential = room.join("host")
    room.publish(EventType.MUTED)
    pipe, task = await _ready(room, credential, since=500)
    resync = await pipe.next()
    assert resync["type"] == "resync" and resync["seq"] == 1
    task.cancel()


# ---- frames in --------------------------------------------------------------------------------


async def test_ping_is_answered_with_pong(room: Room) -> None:
    _, credential = room.join("host")
    pipe, task = await _ready(room, credential)
    pipe.send({"type": "ping"})
    assert (await pipe.next())["type"] == "pong"
    task.cancel()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{oops", "bad_frame"),
        ('"a string"', "bad_frame"),
        ('{"no": "type"}', "bad_frame"),
        ('{"type": 7}', "bad_frame"),
        ('{"type": "admit_everyone"}', "unknown_message_type"),
        ('{"type": "auth", "session_token": "x"}', "bad_frame"),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays(
    room: Room, frame: str, code: str
) -> None:
    _, credential = room.join("host")
    pipe, task = await _ready(room, credential)
    pipe.send(frame)
    error = await pipe.next()
    assert error["type"] == "error" and error["error"] == code
    pipe.send({"type": "ping"})
    assert (await pipe.next())["type"] == "pong"
    assert not task.done()
    task.cancel()


async def test_an_oversize_frame_closes_1009(room: Room) -> None:
    _, credential = room.join("host")
    pipe, task = await _ready(room, credential)
    pipe.send({"type": "ping", "pad": "x" * 5000})
    assert (await pipe.next())["error"] == "frame_too_large"
    assert (await _ended(pipe, task))[0] == CloseCode.TOO_BIG


async def test_a_flood_closes_4429(room: Room) -> None:
    room.limits = StreamLimits(max_messages_per_s=5)
    _, credential = room.join("host")
    pipe, task = await _ready(room, credential)
    for _ in range(10):
        pipe.send({"type": "ping"})
    code, _ = await _ended(pipe, task)
    assert code == CloseCode.FLOOD
    frames = pipe.drained()
    assert frames[-1]["error"] == "rate_limited"
    assert sum(f["type"] == "pong" for f in frames) == 4  # the auth message counted too


# ---- slow consumers ---------------------------------------------------------------------------


async def test_a_slow_consumer_is_closed_and_the_room_goes_on(room: Room) -> None:
    _, slow_credential = room.join("slow")
    _, fast_credential = room.join("fast")
    slow, slow_task = await _ready(room, slow_credential)
    fast, fast_task = await _ready(room, fast_credential)
    slow.stalled = True
    for n in range(300):  # more than a socket's queue holds; the fast one keeps up
        room.publish(EventType.MUTED, n=n)
        await asyncio.sleep(0)
    assert [(await fast.next())["seq"] for _ in range(300)] == list(range(1, 301))
    assert (await _ended(slow, slow_task))[0] == CloseCode.SLOW_CONSUMER
    assert room.bus.listeners("p", "r") == 1
    fast_task.cancel()


async def test_a_socket_that_takes_no_frame_in_time_is_closed(room: Room) -> None:
    room.limits = StreamLimits(send_timeout_s=0.05)
    _, credential = room.join("slow")
    pipe, task = await _ready(room, credential)
    pipe.stalled = True
    room.publish(EventType.MUTED)
    assert (await _ended(pipe, task))[0] == CloseCode.SLOW_CONSUMER


# ---- watchers (server tokens with rooms:moderate) ---------------------------------------------


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RoomkeyService]:
    node = await RoomkeyService.open(make_settings(tmp_path))
    yield node
    await node.close()


def _watching(room: Room, service: RoomkeyService) -> None:
    def authorize(header: str, room_name: str) -> str:
        caller = service.authorize(header, Capability.ROOMS_MODERATE, room=room_name)
        return caller.project_id

    room.watcher = authorize


async def test_a_watcher_sees_what_admitters_see(room: Room, service: RoomkeyService) -> None:
    _watching(room, service)
    boot = service.bootstrap
    assert boot is not None
    room_events = Room(bus=room.bus, watcher=room.watcher)
    token = service.admin_token(boot.project_id, capabilities=[Capability.ROOMS_MODERATE])
    pipe, task = await _open(room_events)
    pipe.send({"type": "auth", "token": token})
    assert (await pipe.next())["status"] == "watching"
    project = boot.project_id
    for audience, kind in ((only("ses_x"), EventType.MUTED), (ADMITTERS, EventType.LOBBY_KNOCK)):
        room.bus.publish(Event(kind, "r", 0.0, {}, audience, project_id=project))
    assert (await pipe.next())["type"] == "lobby_knock"
    assert pipe.drained() == []
    task.cancel()


async def test_a_server_token_without_rooms_moderate_is_4403(
    room: Room, service: RoomkeyService
) -> None:
    _watching(room, service)
    boot = service.bootstrap
    assert boot is not None
    token = service.admin_token(boot.project_id, capabilities=[Capability.ROOMS_READ])
    pipe, task = await _open(room, header=f"Bearer {token}")
    frame = await pipe.next()
    assert frame["error"] == "forbidden" and frame["details"]["missing"] == "rooms:moderate"
    assert (await _ended(pipe, task))[0] == CloseCode.FORBIDDEN


async def test_an_invalid_server_token_is_4401(room: Room, service: RoomkeyService) -> None:
    _watching(room, service)
    pipe, task = await _open(room, header="Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")
    assert (await pipe.next())["type"] == "error"
    assert (await _ended(pipe, task))[0] == CloseCode.UNAUTHORIZED


async def test_without_a_watcher_lookup_a_server_token_is_refused(room: Room) -> None:
    pipe, task = await _open(room, header="Bearer some.jwt.here")
    assert (await pipe.next())["error"] == "invalid_session"
    assert (await _ended(pipe, task))[0] == CloseCode.UNAUTHORIZED


# ---- the server's own failures ----------------------------------------------------------------


async def test_a_failing_snapshot_closes_1011_without_details(room: Room) -> None:
    def broken(session: Session | None) -> dict[str, Any]:
        raise RuntimeError("database on fire")

    room.snapshot = broken  # type: ignore[method-assign]
    _, credential = room.join("host")
    room.publish(EventType.MUTED)
    pipe, task = await _ready(room, credential, since=99)
    frame = await pipe.next()
    assert frame["error"] == "internal_error" and "fire" not in orjson.dumps(frame).decode()
    assert (await _ended(pipe, task))[0] == CloseCode.SERVER_ERROR
