"""The in-memory admission bus: per-room order, audiences, resume, slow consumers."""

from __future__ import annotations

import asyncio

from roomkey.grants import Grant, JoinMode
from roomkey.service.admission import (
    Event,
    EventType,
    InMemoryBus,
    Session,
    SessionRegistry,
    SessionStatus,
    accepts,
)
from roomkey.service.admission.events import ADMITTERS, only


def _event(room: str = "r", project: str = "p", **data: object) -> Event:
    return Event(EventType.PARTICIPANT_JOINED, room, 0.0, data, project_id=project)


async def test_events_are_sequenced_per_room_and_delivered_in_order() -> None:
    bus = InMemoryBus()
    sub = bus.subscribe("p", "r", lambda e: True)
    other = bus.subscribe("p", "other", lambda e: True)
    for i in range(3):
        bus.publish(_event(n=i))
    bus.publish(_event("other"))
    got = [await sub.next() for _ in range(3)]
    assert [e.seq for e in got if e] == [1, 2, 3]
    assert [e.data["n"] for e in got if e] == [0, 1, 2]
    assert (await other.next()).seq == 1  # type: ignore[union-attr]
    assert bus.last_seq("p", "r") == 3 and bus.last_seq("p", "nowhere") == 0


async def test_rooms_of_two_projects_never_mix() -> None:
    bus = InMemoryBus()
    a = bus.subscribe("a", "boardroom", lambda e: True)
    bus.publish(_event("boardroom", "b"))
    assert not a.pending()


async def test_a_listener_gets_only_what_it_accepts() -> None:
    bus = InMemoryBus()
    sub = bus.subscribe("p", "r", lambda e: e.data.get("for") == "me")
    bus.publish(_event(**{"for": "you"}))
    bus.publish(_event(**{"for": "me"}))
    assert (await sub.next()).seq == 2  # type: ignore[union-attr]


async def test_resume_replays_what_was_missed_or_asks_for_a_resync() -> None:
    bus = InMemoryBus(replay=4)
    for i in range(6):
        bus.publish(_event(n=i))
    recent = bus.subscribe("p", "r", lambda e: True, since=3)
    assert [(await recent.next()).seq for _ in range(3)] == [4, 5, 6]  # type: ignore[union-attr]
    assert not recent.resync
    stale = bus.subscribe("p", "r", lambda e: True, since=0)
    assert stale.resync and not stale.pending()
    current = bus.subscribe("p", "r", lambda e: True, since=6)
    assert not current.resync and not current.pending()


async def test_a_slow_consumer_is_closed_and_never_stalls_the_room() -> None:
    bus = InMemoryBus()
    slow = bus.subscribe("p", "r", lambda e: True, queue_size=2)
    fast = bus.subscribe("p", "r", lambda e: True, queue_size=100)
    for i in range(5):
        bus.publish(_event(n=i))
    assert slow.overflowed and slow.closed
    assert bus.listeners("p", "r") == 1
    assert fast.pending() == 5


async def test_next_returns_none_once_closed() -> None:
    bus = InMemoryBus()
    sub = bus.subscribe("p", "r", lambda e: True)
    waiter = asyncio.ensure_future(sub.next())
    await asyncio.sleep(0)
    sub.close()
    assert await waiter is None
    assert bus.listeners("p", "r") == 0


def test_the_message_carries_seq_type_room_and_at_over_the_data() -> None:
    event = Event(EventType.MUTED, "r", 12.5, {"seq": 99, "identity": "bob"}, seq=7)
    assert event.to_json() == {
        "seq": 7,
        "type": "muted",
        "room": "r",
        "at": 12.5,
        "identity": "bob",
    }


def _session(sid: str, status: SessionStatus, **grant: object) -> Session:
    return Session(sid, "p", "r", sid, Grant(**grant), "native", status, 0.0)  # type: ignore[arg-type]


def test_a_waiting_session_sees_only_its_own_decision() -> None:
    waiting = accepts(_session("w", SessionStatus.WAITING))
    assert not waiting(Event(EventType.LOBBY_KNOCK, "r", 0, audience=ADMITTERS))
    assert not waiting(Event(EventType.PARTICIPANT_JOINED, "r", 0))
    assert waiting(Event(EventType.LOBBY_ADMITTED, "r", 0, audience=only("w")))


def test_knocks_reach_those_who_may_admit_and_hidden_ones_only_moderators() -> None:
    host = accepts(_session("h", SessionStatus.ADMITTED, admin=True))
    asker = accepts(_session("a", SessionStatus.ADMITTED, join=JoinMode.ASK))
    knock = Event(EventType.LOBBY_KNOCK, "r", 0, audience=ADMITTERS)
    assert host(knock) and not asker(knock)
    ghost = Event(EventType.PARTICIPANT_JOINED, "r", 0, {"hidden": True})
    assert host(ghost) and not asker(ghost)
    assert asker(Event(EventType.PARTICIPANT_JOINED, "r", 0))


def test_the_registry_replaces_the_same_identity_and_forgets_ended_sessions() -> None:
    registry = SessionRegistry()
    first = _session("s1", SessionStatus.ADMITTED)
    first.identity = "alice"
    assert registry.add(first) is None
    second = _session("s2", SessionStatus.ADMITTED)
    second.identity = "alice"
    assert registry.add(second) is first
    assert registry.of_identity("p", "r", "alice") is second
    assert registry.in_room("p", "r") == [second] and registry.get("s1") is first
    first.status = SessionStatus.REPLACED  # the caller ends the older one
    assert registry.live_count() == 1
    registry.forget(second)
    assert registry.get("s2") is None and registry.of_identity("p", "r", "alice") is None
