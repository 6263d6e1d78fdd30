"""Admission across nodes over the real Redis server: two services in one process, on one
SQLite file and one Redis namespace, behave as one admission server (knocks admitted from the
other node, one participant list and capacity, moderation routed to the owning node, revocations
ending a session once, a dead node's sessions ended after the grace period)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from admission_support import native, videosdk
from service_support import Clock, caller_of, make_settings

from redis_support import PrivateRedis, new_namespace, require_redis
from roomkey.api.metrics import Metrics
from roomkey.errors import AdmissionUnavailableError, AlreadyDecidedError, RoomFullError
from roomkey.grants import Source
from roomkey.revocation import Revocation
from roomkey.service import RoomkeyService
from roomkey.service.admission import Event, Session, SessionStatus, Subscription, accepts
from roomkey.service.admission.rules import Actor

pytestmark = pytest.mark.redis
DEADLINE_S = 10.0
ROOM = "standup"

Nodes = Callable[[int], "asyncio.Future[list[RoomkeyService]]"]


async def until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` until it holds, failing after a generous deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def nodes(tmp_path: Path, clock: Clock) -> AsyncIterator[Callable[..., Any]]:
    """``await nodes(n)``: n services on one database and one Redis namespace, connected."""
    clock.now = time.time()
    namespace = new_namespace()
    opened: list[RoomkeyService] = []

    async def make(count: int, url: str | None = None) -> list[RoomkeyService]:
        url = url or require_redis()
        for _ in range(count):
            settings = make_settings(
                tmp_path,
                redis_url=url,
                redis_namespace=namespace,
                admission_grace_s=2.0,
                admission_node_timeout_s=2.0,
            )
            node = await RoomkeyService.open(settings, clock=clock)
            opened.append(node)
            if len(opened) == 1:
                caller = caller_of(node)
                await node.rooms.create(caller.project_id, custom_id=ROOM, max_participants=3)
        for node in opened:
            await node.reload()  # the room and the first project, made by the first node
        cluster = [n.admission.cluster for n in opened]
        await until(lambda: all(c is not None and c.bus.up for c in cluster), "Redis")
        return opened

    yield make
    for node in reversed(opened):
        await node.close()


def boot_of(node: RoomkeyService) -> Any:
    assert node.bootstrap is not None
    return node.bootstrap


def watch(node: RoomkeyService, session: Session) -> Subscription:
    policy = node.admission.admit_policy(session.project_id, session.room)
    return node.admission.bus.subscribe(session.project_id, session.room, accepts(session, policy))


async def kinds_until(sub: Subscription, last: str) -> list[str]:
    """Event types received until one of type ``last``."""
    got: list[Event] = []
    async with asyncio.timeout(DEADLINE_S):
        while not got or got[-1].type.value != last:
            event = await sub.next()
            assert event is not None, "the subscription closed"
            got.append(event)
    return [e.type.value for e in got]


def scrape(node: RoomkeyService) -> dict[str, float]:
    """The node's admission metrics as /metrics would show them."""
    metrics = Metrics()
    metrics.watch_admission(lambda: node.admission)
    return {s.name: s.value for m in metrics.registry.collect() for s in m.samples}


def actor(session: Session) -> Actor:
    return Actor(session.project_id, session.room, session=session)


async def test_a_knock_on_a_is_admitted_by_a_host_on_b(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    host = await b.admission.join(native(boot, clock.now, ROOM, "h", "host"), ROOM)
    host_events = watch(b, host.session)
    guest = await a.admission.join(videosdk(boot, clock.now, ROOM, "g", "ask_join"), ROOM)
    guest_events = watch(a, guest.session)
    assert guest.status == "waiting"
    # (its own join may come back through Redis before or after it subscribed)
    assert (await kinds_until(host_events, "lobby_knock"))[-1:] == ["lobby_knock"]
    mirror = b.admission.registry.get(guest.session.id)
    assert mirror is not None and mirror.node == a.admission.cluster.node  # type: ignore[union-attr]
    host_actor = actor(host.session)
    assert [k["identity"] for k in b.admission.lobby.list(host_actor)] == ["g"]
    await b.admission.lobby.admit(host_actor, guest.session.id)
    assert guest.session.status is SessionStatus.ADMITTED  # on its own node, A
    assert mirror.status is SessionStatus.ADMITTED  # told before B's answer came back
    assert (await kinds_until(guest_events, "lobby_admitted"))[-2:] == [
        "participant_joined",
        "lobby_admitted",
    ]
    with pytest.raises(AlreadyDecidedError):  # the first decision won, on A
        await b.admission.lobby.admit(host_actor, guest.session.id)
    for node in (a, b):
        seen = [p["identity"] for p in node.admission.visible(boot.project_id, ROOM, True)]
        assert sorted(seen) == ["g", "h"]
    assert scrape(b)["roomkey_admission_redis_up"] == 1
    assert scrape(b)["roomkey_admission_mirrored_sessions"] == 1  # the guest, A's
    assert scrape(b)["roomkey_admission_sessions"] == 1  # the host, B's own
    seqs_a = [e.seq for e in a.admission.bus._streams[(boot.project_id, ROOM)].buffer]
    seqs_b = [e.seq for e in b.admission.bus._streams[(boot.project_id, ROOM)].buffer]
    assert seqs_a == seqs_b and seqs_a == sorted(seqs_a)


async def test_capacity_counts_every_node(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    await a.admission.join(native(boot, clock.now, ROOM, "one"), ROOM)
    await b.admission.join(native(boot, clock.now, ROOM, "two"), ROOM)
    third = await a.admission.join(native(boot, clock.now, ROOM, "three"), ROOM)
    await until(lambda: b.admission.registry.admitted_count(boot.project_id, ROOM) == 3, "B")
    with pytest.raises(RoomFullError):  # max_participants 3, held over two nodes
        await b.admission.join(native(boot, clock.now, ROOM, "four"), ROOM)
    await a.admission.leave(third.session)
    await until(lambda: b.admission.registry.admitted_count(boot.project_id, ROOM) == 2, "B")
    assert (await b.admission.join(native(boot, clock.now, ROOM, "four"), ROOM)).session.live


async def test_moderation_from_b_acts_on_a_session_of_a(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    guest = await a.admission.join(native(boot, clock.now, ROOM, "g"), ROOM)
    events = watch(a, guest.session)
    host = await b.admission.join(native(boot, clock.now, ROOM, "h", "host"), ROOM)
    await until(lambda: b.admission.registry.get(guest.session.id) is not None, "the mirror")
    host_actor = actor(host.session)
    muted = await b.admission.moderation.mute(host_actor, "g", ["mic"])
    assert guest.session.muted == {Source.MIC} and muted.muted == {Source.MIC}
    change = await b.admission.moderation.update(host_actor, "g", permissions={"moderate": True})
    assert guest.session.grant.moderate and change.token.claims.grant.moderate
    assert change.token.claims.identity == "g"
    await b.admission.moderation.remove(host_actor, "g")
    assert guest.session.status is SessionStatus.REMOVED
    assert (await kinds_until(events, "removed"))[-5:] == [
        "participant_joined",
        "muted",
        "permissions_updated",
        "participant_updated",
        "removed",
    ]


async def test_a_revocation_ends_a_session_once_on_its_own_node(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    guest = await a.admission.join(native(boot, clock.now, ROOM, "g"), ROOM)
    host = await b.admission.join(native(boot, clock.now, ROOM, "h", "host"), ROOM)
    host_events = watch(b, host.session)
    await until(lambda: b.admission.registry.get(guest.session.id) is not None, "the mirror")
    await a.revocations.revoke(boot.project_id, identity="g")
    await b.reload()  # as the change feed would: b's listeners hear of the rule too
    rule = Revocation("identity", "g", clock.now)
    assert b.admission.on_revoked(boot.project_id, rule) == 0  # not b's session
    assert guest.session.status is SessionStatus.REMOVED
    assert (await kinds_until(host_events, "participant_left")).count("participant_left") == 1
    await until(lambda: b.admission.bus.last_seq(boot.project_id, ROOM) == 4, "every event")
    stream = b.admission.bus._streams[(boot.project_id, ROOM)]
    assert [e.type.value for e in stream.buffer] == [
        "participant_joined",
        "participant_joined",
        "removed",
        "participant_left",
    ]  # ended once, by A


async def test_a_dead_nodes_sessions_leave_after_the_grace_period(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    guest = await a.admission.join(native(boot, clock.now, ROOM, "g"), ROOM)
    host = await b.admission.join(native(boot, clock.now, ROOM, "h", "host"), ROOM)
    host_events = watch(b, host.session)
    await until(lambda: b.admission.registry.get(guest.session.id) is not None, "the mirror")
    await a.admission.close()  # A stops beating, as if it died
    clock.advance(3.0)  # past admission_node_timeout_s
    cluster = b.admission.cluster
    assert cluster is not None
    await until(lambda: cluster.adopted == 1, "B to adopt A's session")
    mirror = b.admission.registry.get(guest.session.id)
    assert mirror is not None and mirror.node is None and mirror.live
    b.admission.sweep()
    assert mirror.live  # the grace period has not passed
    clock.advance(2.5)
    b.admission.sweep()
    assert mirror.status is SessionStatus.LEFT and mirror.reason == "disconnected"
    assert (await kinds_until(host_events, "participant_left"))[-1] == "participant_left"


async def test_while_redis_is_down_admission_answers_503_and_recovers_by_itself(
    nodes: Any, clock: Clock, tmp_path: Path
) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        a, b = await nodes(2, server.url)
        boot = boot_of(a)
        first = await a.admission.join(native(boot, clock.now, ROOM, "one"), ROOM)
        await until(lambda: b.admission.registry.get(first.session.id) is not None, "mirror")
        server.stop()  # every key is lost with it
        cluster_a, cluster_b = a.admission.cluster, b.admission.cluster
        assert cluster_a is not None and cluster_b is not None
        await until(lambda: not cluster_a.bus.up, "A to notice")
        with pytest.raises(AdmissionUnavailableError) as refused:
            await a.admission.join(native(boot, clock.now, ROOM, "two"), ROOM)
        assert refused.value.details["reason"] == "redis_unreachable"
        assert scrape(a)["roomkey_admission_redis_up"] == 0
        server.start()
        await until(lambda: cluster_a.bus.up and cluster_b.bus.up, "both back")
        second = await b.admission.join(native(boot, clock.now, ROOM, "two"), ROOM)
        assert second.session.live
        await until(lambda: a.admission.registry.get(second.session.id) is not None, "on A")
        mirror = b.admission.registry.get(first.session.id)
        assert mirror is not None and mirror.live  # B's reconnection did not end A's session
        # A told its own session again: a node that starts now still sees it
        late = (await nodes(1, server.url))[-1]
        await until(lambda: late.admission.registry.get(first.session.id) is not None, "late")
    finally:
        server.stop()


async def test_a_socket_on_a_live_node_keeps_a_dead_nodes_session(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    guest = await a.admission.join(native(boot, clock.now, ROOM, "g"), ROOM)
    await until(lambda: b.admission.registry.get(guest.session.id) is not None, "the mirror")
    mirror = b.admission.registry.get(guest.session.id)
    assert mirror is not None
    b.admission.attach(mirror)  # the participant's socket is on B, its session on A
    await until(lambda: guest.session.sockets == 1, "A to count B's socket")
    await a.admission.close()
    clock.advance(3.0)
    await until(lambda: mirror.node is None, "B to adopt the session")
    clock.advance(2.5)
    b.admission.sweep()
    assert mirror.live  # its socket on B is open: past the grace period it stays
    b.admission.detach(mirror)
    clock.advance(2.5)
    b.admission.sweep()
    assert mirror.status is SessionStatus.LEFT


async def test_sockets_held_by_a_dead_node_count_as_closed(nodes: Any, clock: Clock) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    guest = await a.admission.join(native(boot, clock.now, ROOM, "g"), ROOM)
    await until(lambda: b.admission.registry.get(guest.session.id) is not None, "the mirror")
    mirror = b.admission.registry.get(guest.session.id)
    assert mirror is not None
    b.admission.attach(mirror)
    await until(lambda: guest.session.sockets == 1, "A to count B's socket")
    await b.admission.close()  # B dies with the participant's socket
    clock.advance(3.0)
    await until(lambda: guest.session.sockets == 0, "A to drop B's socket")
    clock.advance(2.5)
    a.admission.sweep()
    assert guest.session.status is SessionStatus.LEFT


async def test_a_session_joined_a_moment_ago_elsewhere_is_found_in_redis(
    nodes: Any, clock: Clock
) -> None:
    a, b = await nodes(2)
    boot = boot_of(a)
    guest = await a.admission.join(native(boot, clock.now, ROOM, "g"), ROOM)
    found = await b.admission.find_session(guest.session_token)  # mirrored or read from Redis
    assert found.id == guest.session.id and found.node == a.admission.cluster.node  # type: ignore[union-attr]
    b.admission.registry.forget(found)  # as if its state had not arrived yet
    again = await b.admission.find_session(guest.session_token)
    assert again.id == guest.session.id and again.live
