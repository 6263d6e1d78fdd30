"""The Redis admission bus over the real Redis server: two buses (two nodes) in one process
share one order per room, resumes work on either, and a Redis restart is survived."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from redis_support import PrivateRedis, new_namespace, require_redis
from roomkey.service.admission import Event, EventType, Subscription
from roomkey.service.admission.events import only
from roomkey.service.admission.redis_bus import RedisBus
from roomkey.service.redis import RedisLink

pytestmark = pytest.mark.redis
DEADLINE_S = 10.0

MakeBus = Callable[..., "asyncio.Future[RedisBus]"]


def _event(n: int, room: str = "r", project: str = "p") -> Event:
    return Event(EventType.MUTED, room, time.time(), {"n": n}, project_id=project)


async def until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` until it holds, failing after a generous deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def take(sub: Subscription, count: int) -> list[Event]:
    got: list[Event] = []
    async with asyncio.timeout(DEADLINE_S):
        while len(got) < count:
            event = await sub.next()
            assert event is not None
            got.append(event)
    return got


@pytest.fixture
async def buses() -> AsyncIterator[Callable[..., RedisBus]]:
    """Started buses on one namespace of the shared Redis (or ``url``), closed at the end."""
    started: list[RedisBus] = []
    namespace = new_namespace()

    def make(url: str | None = None) -> RedisBus:
        client = Redis.from_url(url or require_redis(), socket_timeout=2.0)
        bus = RedisBus(RedisLink(client, namespace))
        bus.start()
        started.append(bus)
        return bus

    yield make
    for bus in started:
        await bus.close()
        await bus.link.close()


async def test_two_nodes_deliver_one_order_per_room(buses: Callable[..., RedisBus]) -> None:
    a, b = buses(), buses()
    await until(lambda: a.up and b.up, "both buses subscribed")
    on_a = a.subscribe("p", "r", lambda e: True)
    on_b = b.subscribe("p", "r", lambda e: True)
    other = b.subscribe("p", "other", lambda e: True)
    for n in range(20):
        (a if n % 2 else b).publish(_event(n))  # both nodes publish, interleaved
    b.publish(_event(99, room="other"))
    got_a, got_b = await take(on_a, 20), await take(on_b, 20)
    assert [e.seq for e in got_a] == list(range(1, 21))
    assert [(e.seq, e.data["n"]) for e in got_a] == [(e.seq, e.data["n"]) for e in got_b]
    assert sorted(e.data["n"] for e in got_a) == list(range(20))
    assert (await take(other, 1))[0].seq == 1  # each room counts on its own
    assert a.last_seq("p", "r") == b.last_seq("p", "r") == 20


async def test_audiences_and_texts_survive_the_trip(buses: Callable[..., RedisBus]) -> None:
    a, b = buses(), buses()
    await until(lambda: a.up and b.up, "both buses subscribed")
    mine = b.subscribe("p", "r", lambda e: "ses_1" in e.audience.sessions)
    a.publish(Event(EventType.REMOVED, "r", 1.5, {"reason": "x"}, only("ses_1"), project_id="p"))
    (event,) = await take(mine, 1)
    assert event.type is EventType.REMOVED and event.at == 1.5
    assert event.audience.sessions == {"ses_1"} and not event.audience.everyone
    assert '"reason":"x"' in event.text and '"seq":1' in event.text


async def test_a_node_that_was_not_following_resumes_from_redis(
    buses: Callable[..., RedisBus],
) -> None:
    a = buses()
    await until(lambda: a.up, "bus subscribed")
    watching = a.subscribe("p", "r", lambda e: True)
    for n in range(5):
        a.publish(_event(n))
    await take(watching, 5)
    late = buses()  # a node started after those events
    await until(lambda: late.up, "late bus subscribed")
    await late.prepare("p", "r")
    assert late.last_seq("p", "r") == 5
    resumed = late.subscribe("p", "r", lambda e: True, since=2)
    assert [e.data["n"] for e in await take(resumed, 3)] == [2, 3, 4]


async def test_publish_once_publishes_one_event_whoever_calls(
    buses: Callable[..., RedisBus],
) -> None:
    a, b = buses(), buses()
    await until(lambda: a.up and b.up, "both buses subscribed")
    sub = a.subscribe("p", "r", lambda e: True)
    a.publish_once(_event(1), "deactivated:r")
    b.publish_once(_event(1), "deactivated:r")
    a.publish(_event(2))
    got = await take(sub, 2)
    assert [e.data["n"] for e in got] == [1, 2]


async def test_a_redis_restart_is_survived_and_numbers_never_go_back(
    buses: Callable[..., RedisBus], tmp_path: Path
) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        a, b = buses(server.url), buses(server.url)
        await until(lambda: a.up and b.up, "both buses subscribed")
        sub = b.subscribe("p", "r", lambda e: True)
        for n in range(3):
            a.publish(_event(n))
        await take(sub, 3)
        server.stop()  # every counter and list is lost with it (nothing saved)
        await until(lambda: not a.connected and not b.connected, "both buses to notice")
        a.publish(_event(3))  # queued while Redis is down
        server.start()
        await until(lambda: a.up and b.up, "both buses back")
        a.publish(_event(4))
        got = await take(sub, 2)
        assert [(e.seq, e.data["n"]) for e in got] == [(4, 3), (5, 4)]
    finally:
        server.stop()
