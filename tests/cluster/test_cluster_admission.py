"""Admission across three real `roomkey serve` nodes on one PostgreSQL database and Redis:
a knock on A admitted by a host on B with the events seen on C, a ban made on C ending a
session on A, and a node killed with SIGKILL whose participants leave after the grace period
while the other nodes keep serving. Clients are roomkey.client and the `websockets` library."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cluster_support import Banner, Cluster, MakeCluster, PrivateRedis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from roomkey.client import RoomClient

pytestmark = pytest.mark.slow
ROOM = "standup"
WAIT_S = 20.0
# short enough for a test: a node counts dead 2 s after its last heartbeat, its sessions end
# 2 s later
FAST = {"ROOMKEY_ADMISSION_GRACE_S": "2", "ROOMKEY_ADMISSION_NODE_TIMEOUT_S": "2"}


def _videosdk(boot: Banner, participant: str, permissions: list[str]) -> str:
    """A VideoSDK token made by PyJWT with the project's API key and secret."""
    now = int(time.time())
    payload = {
        "apikey": boot.api_key,
        "permissions": permissions,
        "version": 2,
        "roomId": ROOM,
        "participantId": participant,
        "roles": ["rtc"],
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(payload, boot.api_secret, algorithm="HS256")


def _mint(http: httpx.Client, identity: str, role: str = "guest") -> str:
    answer = http.post("/v1/tokens", json={"room": ROOM, "identity": identity, "role": role})
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class Watcher:
    """A client's events from the room's first one, collected in the background."""

    def __init__(self, client: RoomClient) -> None:
        self.events: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._task = asyncio.ensure_future(self._run(client))

    async def _run(self, client: RoomClient) -> None:
        async for event in client.events(since=0):  # replayed from the first: no race
            self.events.append(event)
            self._new.set()

    async def next_of(self, kind: str, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_S):
            while True:
                for event in self.events:
                    if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                        return event
                self._new.clear()
                await self._new.wait()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[str], RoomClient]]:
    made: list[RoomClient] = []

    def make(url: str) -> RoomClient:
        client = RoomClient(url)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


def _start(make_cluster: MakeCluster, **options: Any) -> Cluster:
    """Three nodes with a room every one of them knows."""
    cluster = make_cluster(3, env=FAST, **options)
    with cluster.client(0) as http:
        created = http.post("/v1/rooms", json={"customRoomId": ROOM})
        assert created.status_code in (200, 201), created.text
    deadline = time.monotonic() + WAIT_S
    for i in range(3):
        with cluster.client(i) as http:
            while http.get(f"/v1/rooms/{ROOM}").status_code != 200:
                assert time.monotonic() < deadline, f"node {i} never saw the room"
                time.sleep(0.05)  # polling another process for what it knows
    return cluster


async def _socket(url: str, session_token: str) -> ClientConnection:
    """A raw WebSocket on ``url``'s room events, authenticated, past its ``ready``."""
    ws = await connect(f"ws{url.removeprefix('http')}/v1/rooms/{ROOM}/events")
    await ws.send(orjson.dumps({"type": "auth", "session_token": session_token}).decode())
    ready = orjson.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return ws


async def _until_closed(ws: ClientConnection) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes: its close code and what came before."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT_S):
        try:
            while True:
                got.append(orjson.loads(await ws.recv()))
        except ConnectionClosed:
            pass
    return ws.close_code, got


async def test_a_knock_on_a_is_admitted_from_b_and_seen_on_c(
    make_cluster: MakeCluster, clients: Callable[[str], RoomClient]
) -> None:
    cluster = _start(make_cluster)
    a, b, c = (node.url for node in cluster.nodes)
    boot = cluster.banner
    with cluster.client(1) as http:
        host_token, carl_token = _mint(http, "hana", "host"), _mint(http, "carl")
    host, carl, guest = clients(b), clients(c), clients(a)
    assert (await host.join(ROOM, host_token)).status == "admitted"
    host_events = Watcher(host)
    assert (await carl.join(ROOM, carl_token)).status == "admitted"
    carl_events = Watcher(carl)

    knock = await guest.join(ROOM, _videosdk(boot, "gus", ["ask_join"]))  # on A
    assert knock.status == "waiting"
    seen = await host_events.next_of("lobby_knock")  # on B
    assert seen["session_id"] == knock.session_id
    lobby = await host.lobby()
    assert [k["identity"] for k in lobby["data"]] == ["gus"]
    waiting = asyncio.ensure_future(guest.wait_admitted(WAIT_S))  # its socket on A
    await host.admit(knock.session_id)  # from B
    assert (await waiting)["type"] == "lobby_admitted"
    own = httpx.get(
        f"{a}/v1/sessions/{knock.session_id}",
        headers={"X-Session-Token": knock.session_token},
    )
    assert own.status_code == 200 and own.json()["status"] == "admitted", own.text

    gus_on_b, gus_on_c = await _joined(host_events, "gus"), await _joined(carl_events, "gus")
    assert gus_on_b["seq"] == gus_on_c["seq"]  # one order for the room, on every node
    for events in (host_events.events, carl_events.events):
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for url in (a, b, c):
        listed = httpx.get(
            f"{url}/v1/rooms/{ROOM}/participants",
            headers={"Authorization": f"Bearer {boot.admin_token}"},
        )
        assert listed.status_code == 200, listed.text
        assert sorted(p["identity"] for p in listed.json()["data"]) == ["carl", "gus", "hana"]
    await host_events.stop()
    await carl_events.stop()


async def test_a_ban_made_on_c_ends_the_session_on_a(
    make_cluster: MakeCluster, clients: Callable[[str], RoomClient]
) -> None:
    cluster = _start(make_cluster)
    a, _, c = (node.url for node in cluster.nodes)
    with cluster.client(2) as http:
        host_token = _mint(http, "hana", "host")
    with cluster.client(0) as http:
        guest_token = _mint(http, "mallory")
    guest = clients(a)
    joined = await guest.join(ROOM, guest_token)
    ws = await _socket(a, joined.session_token)
    host = clients(c)
    await host.join(ROOM, host_token)
    await _until_listed(c, cluster.banner, "mallory")
    await host.remove("mallory", ban=True)  # on C
    code, got = await _until_closed(ws)  # on A
    assert code == 4409, (code, got)
    assert [e["reason"] for e in got if e.get("type") == "removed"] == ["banned"]
    deadline = time.monotonic() + WAIT_S
    while True:  # A learns of the ban from the database (or the change feed)
        again = httpx.post(
            f"{a}/v1/rooms/{ROOM}/join", headers={"Authorization": f"Bearer {guest_token}"}
        )
        if again.status_code == 403:
            break
        assert time.monotonic() < deadline, again.text
        await asyncio.sleep(0.1)
    assert again.json()["error"] == "banned", again.text


async def _joined(events: Watcher, identity: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for event in events.events:
            joined = event["type"] == "participant_joined"
            if joined and event["participant"]["identity"] == identity:
                return event
        return None

    await _until(lambda: found() is not None, f"{identity} joined")
    event = found()
    assert event is not None
    return event


async def _until_listed(url: str, boot: Banner, identity: str) -> None:
    def listed() -> bool:
        answer = httpx.get(
            f"{url}/v1/rooms/{ROOM}/participants",
            headers={"Authorization": f"Bearer {boot.admin_token}"},
        )
        return identity in [p["identity"] for p in answer.json()["data"]]

    await _until(listed, f"{identity} listed on {url}")


async def test_a_killed_node_takes_only_its_own_sessions(
    make_cluster: MakeCluster, clients: Callable[[str], RoomClient]
) -> None:
    cluster = _start(make_cluster)
    a, b, c = (node.url for node in cluster.nodes)
    with cluster.client(1) as http:
        tokens = {name: _mint(http, name) for name in ("ana", "bea", "cid", "dan")}
    ana, bea, cid = clients(a), clients(b), clients(c)
    await ana.join(ROOM, tokens["ana"])
    ana_ws = await _socket(a, ana.session.session_token)  # type: ignore[union-attr]
    await bea.join(ROOM, tokens["bea"])
    bea_events = Watcher(bea)
    await cid.join(ROOM, tokens["cid"])
    cid_events = Watcher(cid)
    await _until_listed(b, cluster.banner, "ana")

    cluster.nodes[0].kill()  # SIGKILL: no goodbye, its sockets drop
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(WAIT_S):
            while True:
                await ana_ws.recv()
    for events in (bea_events, cid_events):
        left = await events.next_of("participant_left")
        assert left["identity"] == "ana" and left["reason"] == "disconnected"
    for events in (bea_events, cid_events):
        assert not [e for e in events.events if e.get("identity") in ("bea", "cid")]
    dan = clients(c)
    assert (await dan.join(ROOM, tokens["dan"])).status == "admitted"
    listed = httpx.get(
        f"{b}/v1/rooms/{ROOM}/participants",
        headers={"Authorization": f"Bearer {cluster.banner.admin_token}"},
    )
    assert sorted(p["identity"] for p in listed.json()["data"]) == ["bea", "cid", "dan"]
    await bea_events.stop()
    await cid_events.stop()


async def test_a_socket_on_another_node_and_redis_stopped_and_started_again(
    make_cluster: MakeCluster, private_redis: PrivateRedis, clients: Callable[[str], RoomClient]
) -> None:
    cluster = _start(make_cluster, redis_url=private_redis.url)
    a, b, c = (node.url for node in cluster.nodes)
    with cluster.client(1) as http:
        ana_token, late_token = _mint(http, "ana"), _mint(http, "lu")
        host_token = _mint(http, "hana", "host")
    joined = await clients(a).join(ROOM, ana_token)  # ana's session is on A
    ana = clients(c)  # and her socket on C: no sticky sessions needed
    ana.use_session(ROOM, joined.session_id, joined.session_token)
    ana_events = Watcher(ana)
    host = clients(b)
    await host.join(ROOM, host_token)
    await _until_listed(b, cluster.banner, "ana")
    await host.mute("ana", ["mic"])
    assert (await ana_events.next_of("muted"))["sources"] == ["mic"]

    private_redis.stop()  # every key is lost with it
    deadline = time.monotonic() + WAIT_S
    while True:  # live admission answers 503 with its reason, and nothing hangs
        refused = httpx.post(
            f"{b}/v1/rooms/{ROOM}/join", headers={"Authorization": f"Bearer {late_token}"}
        )
        if refused.status_code == 503:
            break
        assert time.monotonic() < deadline, refused.text
        await asyncio.sleep(0.1)
    assert refused.json()["error"] == "admission_unavailable", refused.text
    assert refused.json()["details"]["reason"] == "redis_unreachable"

    private_redis.start()
    deadline = time.monotonic() + WAIT_S
    while True:  # the nodes reconnect by themselves
        again = httpx.post(
            f"{b}/v1/rooms/{ROOM}/join", headers={"Authorization": f"Bearer {late_token}"}
        )
        if again.status_code == 200:
            break
        assert time.monotonic() < deadline, again.text
        await asyncio.sleep(0.1)
    await _until_listed(c, cluster.banner, "lu")
    await host.mute("ana", ["cam"])  # A still holds ana; C still serves her socket
    assert (await ana_events.next_of("muted", sources=["cam"]))["identity"] == "ana"
    seqs = [e["seq"] for e in ana_events.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # never back, never twice
    await ana_events.stop()
