"""Admission end to end: a real `roomkey serve` process, real WebSocket clients (roomkey.client
over the `websockets` library), tokens made by the real third-party libraries where the format
is theirs (PyJWT for VideoSDK, livekit-api for LiveKit), and LiveKit's own verifier for the
platform token handed out on admission.

Not shown here, and where it is: a token that expires after its holder joined keeps the session
(tests/service/admission, with an injected clock: a real server would have to wait past the
leeway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from e2e_support import Banner, Server
from livekit.api import AccessToken as LiveKitToken
from livekit.api import TokenVerifier as LiveKitVerifier
from livekit.api import VideoGrants
from websockets.asyncio.client import connect

from roomkey.client import RoomClient
from roomkey.errors import RoomkeyError

pytestmark = pytest.mark.slow
ROOM = "standup"
WAIT_S = 10.0


def _videosdk(boot: Banner, participant: str, permissions: list[str]) -> str:
    """The seeds' VideoSDK token, signed by PyJWT with the project's API key and secret."""
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


def _livekit_host(boot: Banner, identity: str) -> str:
    grants = VideoGrants(room_join=True, room=ROOM, room_admin=True)
    token = LiveKitToken(boot.api_key, boot.api_secret).with_identity(identity)
    return token.with_grants(grants).to_jwt()


def _mint(http: httpx.Client, boot: Banner, **body: Any) -> str:
    auth = {"Authorization": f"Bearer {boot.admin_token}"}
    answer = http.post("/v1/tokens", json={"room": ROOM, **body}, headers=auth)
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


class Watcher:
    """A client's events from the room's first one, collected in the background."""

    def __init__(self, client: RoomClient) -> None:
        self.events: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._task = asyncio.ensure_future(self._run(client))

    async def _run(self, client: RoomClient) -> None:
        # since=0: whatever the room published before this socket opened is replayed to it,
        # as to any client that resumes (so the test never races the connection)
        async for event in client.events(since=0):
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
async def clients(server: Server) -> AsyncIterator[list[RoomClient]]:
    made: list[RoomClient] = []
    yield made
    for client in made:
        await client.aclose()


async def test_the_lobby_moderation_and_bans_of_the_seeds_end_to_end(
    server: Server, clients: list[RoomClient]
) -> None:
    boot = Banner.read(server.data_dir)
    http = server.client()
    admin = {"Authorization": f"Bearer {boot.admin_token}"}
    setting = http.patch("/v1/project", json={"platform_token": "livekit"}, headers=admin)
    assert setting.status_code == 200, setting.text

    def client() -> RoomClient:
        made = RoomClient(server.url)
        clients.append(made)
        return made

    # a host joins at once (native token from roomkey), and a LiveKit roomAdmin too
    host = client()
    joined = await host.join(ROOM, _mint(http, boot, identity="hana", role="host"))
    assert joined.status == "admitted" and joined.participant_token
    assert [p["identity"] for p in joined.participants] == ["hana"]
    lk_host = client()
    lk_joined = await lk_host.join(ROOM, _livekit_host(boot, "lk-host"))
    assert lk_joined.status == "admitted" and lk_joined.participants_total == 2
    host_events = Watcher(host)
    # the event stream speaks no permessage-deflate, though the websockets client asks for it
    # (each socket would compress every event again: server CPU in a room's fan-out)
    async with connect(f"ws{server.url.removeprefix('http')}/v1/rooms/{ROOM}/events") as ws:
        assert ws.protocol.extensions == []

    # a VideoSDK ask_join guest knocks (202), the host sees the knock and admits it
    guest = client()
    guest_token = _videosdk(boot, "gus", ["ask_join"])
    knock = await guest.join(ROOM, guest_token)
    assert knock.status == "waiting" and knock.position == 1
    seen = await host_events.next_of("lobby_knock")
    assert seen["session_id"] == knock.session_id
    waiting = asyncio.ensure_future(guest.wait_admitted(WAIT_S))
    await host.admit(knock.session_id)
    with pytest.raises(RoomkeyError) as twice:
        await host.admit(knock.session_id)  # the first decision won
    assert twice.value.code == "already_decided"
    admitted = await waiting
    platform = admitted["participant_token"]
    claims = LiveKitVerifier(boot.api_key, boot.api_secret).verify(platform)
    assert (claims.identity, claims.video.room) == ("gus", ROOM)

    # another knock is rejected, and the knocker is told
    knocker = client()
    other = await knocker.join(ROOM, _videosdk(boot, "kit", ["ask_join"]))
    told = asyncio.ensure_future(knocker.wait_admitted(WAIT_S))
    await host.reject(other.session_id, "not today")
    with pytest.raises(RoomkeyError) as refused:
        await told
    assert refused.value.code == "rejected"

    # a VideoSDK allow_mod moderator mutes the guest's mic; the guest hears it
    moderator = client()
    mod = await moderator.join(ROOM, _videosdk(boot, "mo", ["allow_join", "allow_mod"]))
    assert mod.status == "admitted"
    guest_events = Watcher(guest)
    await moderator.mute("gus", ["mic"])
    muted = await guest_events.next_of("muted")
    assert muted["sources"] == ["mic"]

    # a coHost may not make anyone host
    cohost = client()
    co = await cohost.join(ROOM, _mint(http, boot, identity="cora", role="coHost"))
    promote = http.patch(
        f"/v1/rooms/{ROOM}/participants/gus",
        json={"role": "host"},
        headers={"Authorization": f"Bearer {co.session_token}"},
    )
    assert promote.status_code == 403, promote.text
    assert promote.json()["error"] == "moderation_refused"

    # refresh extends a live session with a fresh token
    refreshed = await host.refresh()
    assert refreshed["token"] and refreshed["session_token"]

    # the host removes the guest with a ban: removed at once, and no token gets it back in
    await host.remove("gus", ban=True)
    removed = await guest_events.next_of("removed")
    assert removed.get("reason") in ("banned", "removed")
    await guest_events.stop()
    for token in (guest_token, _videosdk(boot, "gus", ["allow_join"])):  # same, then fresh
        with pytest.raises(RoomkeyError) as banned:
            await client().join(ROOM, token)
        assert banned.value.code == "banned"
    fresh = http.post("/v1/tokens", json={"room": ROOM, "identity": "gus"}, headers=admin)
    assert fresh.status_code == 403 and fresh.json()["error"] == "banned"

    # a revocation ends a live session
    listener = client()
    await listener.join(ROOM, _mint(http, boot, identity="lena", role="listener"))
    listener_events = Watcher(listener)
    await moderator.mute("lena", ["mic"])  # once heard, the listener's socket is open
    await listener_events.next_of("muted")
    rule = http.post("/v1/revocations", json={"identity": "lena"}, headers=admin)
    assert rule.status_code == 201, rule.text
    ended = await listener_events.next_of("removed")
    assert ended["reason"] == "revoked"
    await listener_events.stop()
    await host_events.stop()

    # the server restarts: the ban still holds
    server.restart()
    http = server.client()  # the restarted server listens on a new port
    with pytest.raises(RoomkeyError) as after:
        await client().join(ROOM, _videosdk(boot, "gus", ["allow_join"]))
    assert after.value.code == "banned"
    assert (await client().join(ROOM, _mint(http, boot, identity="hana2", role="host"))).status == (
        "admitted"
    )
