"""The admission routes in-process over the real app on SQLite, with tokens of all four
formats (VideoSDK and LiveKit made by PyJWT and livekit-api)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from admission_support import huddle01, livekit, native, videosdk
from api_support import assert_error
from livekit.api import TokenVerifier as LiveKitVerifier

from roomkey.api.schemas_admission import JoinPublic, ParticipantsPublic
from roomkey.service import Bootstrap, RoomkeyService
from roomkey.service.admission.service import JOIN_PARTICIPANTS_MAX


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session(body: dict[str, Any]) -> dict[str, str]:
    return {"X-Session-Token": body["session_token"]}


async def join(client: httpx.AsyncClient, room: str, token: str, status: int = 200) -> Any:
    response = await client.post(f"/v1/rooms/{room}/join", headers=bearer(token))
    assert response.status_code == status, response.text
    return response.json()


def vs(boot: Bootstrap, identity: str, *perms: str, room: str = "r1") -> str:
    return videosdk(boot, time.time(), room, identity, *perms)


async def test_videosdk_host_admits_an_ask_join_guest_who_gets_its_livekit_token(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    made = await client.patch("/v1/project", json={"platform_token": "livekit"}, headers=auth)
    assert made.status_code == 200, made.text
    host = await join(client, "r1", vs(boot, "h", "allow_join", "allow_mod"))
    assert host["status"] == "admitted" and host["participant"]["identity"] == "h"
    assert [p["identity"] for p in host["participants"]] == ["h"]
    guest = await join(client, "r1", vs(boot, "g", "ask_join"), 202)
    assert guest["status"] == "waiting" and guest["position"] == 1
    assert "participant_token" not in guest and "participants" not in guest
    lobby = await client.get("/v1/rooms/r1/lobby", headers=session(host))
    assert [k["session_id"] for k in lobby.json()["data"]] == [guest["session_id"]]
    path = f"/v1/rooms/r1/lobby/{guest['session_id']}/admit"
    admitted = await client.post(path, headers=session(host))
    assert admitted.status_code == 200 and admitted.json()["status"] == "admitted"
    assert_error(await client.post(path, headers=session(host)), 409, "already_decided")
    mine = await client.get(f"/v1/sessions/{guest['session_id']}", headers=session(guest))
    token = mine.json()["participant_token"]
    read = LiveKitVerifier(boot.api_key, boot.api_secret).verify(token)
    assert read.identity == "g" and read.video.room == "r1" and read.video.room_join


async def test_another_knock_is_rejected_and_a_third_cancels(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    host = await join(client, "r1", vs(boot, "h", "allow_mod"))
    guest = await join(client, "r1", vs(boot, "g", "ask_join"), 202)
    path = f"/v1/rooms/r1/lobby/{guest['session_id']}/reject"
    rejected = await client.post(path, json={"reason": "full today"}, headers=session(host))
    assert rejected.json()["status"] == "rejected", rejected.text
    mine = await client.get(f"/v1/sessions/{guest['session_id']}", headers=session(guest))
    assert assert_error(mine, 403, "rejected")["details"]["reason"] == "full today"
    other = await join(client, "r1", vs(boot, "o", "ask_join"), 202)
    cancel = f"/v1/sessions/{other['session_id']}/cancel"
    assert (await client.post(cancel, headers=session(other))).json()["status"] == "cancelled"
    assert_error(await client.post(cancel, headers=session(other)), 401, "invalid_session")


async def test_a_moderator_mutes_a_mic_and_a_guest_cannot(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    host = await join(client, "r1", vs(boot, "h", "allow_mod"))
    guest = await join(client, "r1", vs(boot, "g"))
    body = {"sources": ["mic"]}
    muted = await client.post("/v1/rooms/r1/participants/g/mute", json=body, headers=session(host))
    assert muted.json() == {"identity": "g", "muted": ["mic"], "requested": []}
    asked = await client.post(
        "/v1/rooms/r1/participants/g/unmute", json=body, headers=session(host)
    )
    assert asked.json()["muted"] == ["mic"] and asked.json()["requested"] == ["mic"]
    refused = await client.post(
        "/v1/rooms/r1/participants/h/mute", json=body, headers=session(guest)
    )
    assert assert_error(refused, 403, "forbidden")["details"]["missing"] == "moderate"
    listed = await client.get("/v1/rooms/r1/participants", headers=session(guest))
    assert {p["identity"]: p["muted"] for p in listed.json()["data"]} == {"h": [], "g": ["mic"]}


async def test_a_livekit_room_admin_removes_with_ban_and_no_token_gets_back_in(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    host = await join(client, "r1", livekit(boot, "r1", "h", admin=True))
    old = livekit(boot, "r1", "g")
    guest = await join(client, "r1", old)
    removed = await client.delete("/v1/rooms/r1/participants/g?ban=true", headers=session(host))
    assert removed.json() == {"identity": "g", "session_id": guest["session_id"], "banned": True}
    assert_error(await client.post("/v1/rooms/r1/join", headers=bearer(old)), 403, "banned")
    fresh = native(boot, time.time() + 2, "r1", "g")
    assert_error(await client.post("/v1/rooms/r1/join", headers=bearer(fresh)), 403, "banned")
    refresh = f"/v1/sessions/{guest['session_id']}/refresh"
    assert_error(await client.post(refresh, headers=session(guest)), 401, "invalid_session")


async def test_a_huddle01_cohost_cannot_make_someone_host(
    client: httpx.AsyncClient, service: RoomkeyService
) -> None:
    await join(client, "r1", await huddle01(service, "r1", "h", "host"))
    cohost = await join(client, "r1", await huddle01(service, "r1", "c", "coHost"))
    await join(client, "r1", await huddle01(service, "r1", "g", "guest"))
    made = await client.patch(
        "/v1/rooms/r1/participants/g", json={"role": "host"}, headers=session(cohost)
    )
    assert assert_error(made, 403, "moderation_refused")["details"]["rule"] == "cohost_makes_host"
    changed = await client.patch(
        "/v1/rooms/r1/participants/g", json={"role": "listener"}, headers=session(cohost)
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["participant"]["role"] == "listener" and body["token"]["dialect"] == "huddle01"
    assert not body["participant"]["grant"]["can_produce"]


async def test_refresh_extends_a_live_session_and_a_revocation_ends_it(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    guest = await join(client, "r1", native(boot, time.time(), "r1", "g"))
    refreshed = await client.post(
        f"/v1/sessions/{guest['session_id']}/refresh", headers=session(guest)
    )
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    verified = await client.post("/v1/tokens/verify", json={"token": fresh["token"]["token"]})
    assert verified.json()["valid"] and verified.json()["claims"]["room"] == "r1"
    rule = await client.post("/v1/revocations", json={"identity": "g"}, headers=auth)
    assert rule.status_code == 201
    again = await client.post(f"/v1/sessions/{guest['session_id']}/refresh", headers=session(fresh))
    assert_error(again, 401, "invalid_session")


async def test_an_expired_after_join_token_does_not_end_the_session(
    client: httpx.AsyncClient, boot: Bootstrap, service: RoomkeyService
) -> None:
    guest = await join(client, "r1", vs(boot, "g"))  # a 600 s VideoSDK token
    later = time.time() + 1800
    service.ctx.clock = lambda: later  # the session's clock: the join token has expired
    mine = await client.get(f"/v1/sessions/{guest['session_id']}", headers=session(guest))
    assert mine.json()["status"] == "admitted"
    refresh = f"/v1/sessions/{guest['session_id']}/refresh"
    refreshed = await client.post(refresh, headers=session(guest))
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token"]["expires_at"] > later


async def test_the_same_identity_joining_again_replaces_its_session(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    first = await join(client, "r1", vs(boot, "g"))
    second = await join(client, "r1", vs(boot, "g"))
    mine = await client.get(f"/v1/sessions/{first['session_id']}", headers=session(first))
    assert mine.json()["status"] == "replaced"
    listed = await client.get("/v1/rooms/r1/participants", headers=session(second))
    assert [p["session_id"] for p in listed.json()["data"]] == [second["session_id"]]


async def test_a_locked_room_holds_guests_and_a_full_room_refuses(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    made = await client.post(
        "/v1/rooms", json={"customRoomId": "r1", "max_participants": 2}, headers=auth
    )
    assert made.status_code == 201
    host = await join(client, "r1", vs(boot, "h", "allow_mod"))
    locked = await client.post("/v1/rooms/r1/lock", headers=auth)  # a server token
    assert locked.json() == {"room": "r1", "locked": True}
    waiting = await join(client, "r1", vs(boot, "g"), 202)
    assert waiting["position"] == 1
    unlocked = await client.post("/v1/rooms/r1/unlock", headers=session(host))
    assert unlocked.json()["locked"] is False
    await join(client, "r1", vs(boot, "a"))
    assert_error(
        await client.post("/v1/rooms/r1/join", headers=bearer(vs(boot, "b"))), 403, "room_full"
    )


async def test_a_deactivated_room_keeps_its_room_inactive_code(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    room = (await client.post("/v1/rooms", json={"customRoomId": "r1"}, headers=auth)).json()
    await client.post(f"/v1/rooms/{room['roomId']}/deactivate", headers=auth)
    assert_error(
        await client.post("/v1/rooms/r1/join", headers=bearer(vs(boot, "g"))), 409, "room_inactive"
    )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda boot: "not-a-token", "malformed"),
        (lambda boot: videosdk(boot, time.time() - 1000, "r1", "g", ttl=100), "expired"),
        (lambda boot: vs(boot, "g", room="other"), "wrong_room"),
        (
            lambda boot: jwt.encode(
                {
                    "apikey": boot.api_key,
                    "permissions": ["allow_join"],
                    "roomId": "r1",
                    "participantId": "g",
                    "exp": int(time.time()) + 60,
                },
                "x" * 40,
                "HS256",
            ),
            "bad_signature",
        ),
    ],
)
async def test_an_invalid_token_is_401_with_the_verifiers_reason(
    client: httpx.AsyncClient, boot: Bootstrap, make: Any, reason: str
) -> None:
    refused = await client.post("/v1/rooms/r1/join", json={"token": make(boot)})
    assert assert_error(refused, 401, "unauthorized")["details"]["reason"] == reason
    missing = await client.post("/v1/rooms/r1/join")
    assert assert_error(missing, 401, "unauthorized")["details"]["reason"] == "missing_token"


async def test_a_session_of_another_room_or_project_cannot_act_here(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    host = await join(client, "r1", vs(boot, "h", "allow_mod"))
    elsewhere = await join(client, "r2", vs(boot, "x", "allow_mod", room="r2"))
    refused = await client.get("/v1/rooms/r1/participants", headers=session(elsewhere))
    assert_error(refused, 403, "forbidden")
    created = (await client.post("/v1/projects", json={"name": "b"}, headers=auth)).json()
    other = Bootstrap(created["id"], created["api_key"], created["api_secret"], "")
    b_host = await join(client, "b-room", vs(other, "h", "allow_mod", room="b-room"))
    assert_error(await client.get("/v1/rooms/r1/lobby", headers=session(b_host)), 403, "forbidden")
    forged = host["session_token"][:-2] + (
        "AA" if not host["session_token"].endswith("AA") else "BB"
    )
    assert_error(
        await client.get("/v1/rooms/r1/participants", headers={"X-Session-Token": forged}),
        401,
        "invalid_session",
    )
    other_session = f"/v1/sessions/{host['session_id']}/leave"
    assert_error(await client.post(other_session, headers=session(elsewhere)), 403, "forbidden")


async def test_a_server_token_with_rooms_moderate_sees_the_room_and_hidden_ones(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    guest = await join(client, "r1", vs(boot, "g"))
    await join(client, "r1", native(boot, time.time(), "r1", "rec", "bot", hidden=True))
    seen = await client.get("/v1/rooms/r1/participants", headers=auth)
    assert [p["identity"] for p in seen.json()["data"]] == ["g", "rec"]
    by_guest = await client.get("/v1/rooms/r1/participants", headers=session(guest))
    assert [p["identity"] for p in by_guest.json()["data"]] == ["g"]
    left = await client.post(f"/v1/sessions/{guest['session_id']}/leave", headers=session(guest))
    assert left.json()["status"] == "left"
    assert [
        p["identity"]
        for p in (await client.get("/v1/rooms/r1/participants", headers=auth)).json()["data"]
    ] == ["rec"]


async def test_a_participant_token_acts_directly_with_its_own_grant_only(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    """Regression: a participant token that moderates its room acted with a server's full
    rights (a moderator could remove, ban and change roles, which need admin)."""
    await join(client, "r1", vs(boot, "g"))
    moderator = native(boot, time.time(), "r1", "m", moderate=True)
    body = {"sources": ["cam"]}
    muted = await client.post(
        "/v1/rooms/r1/participants/g/mute", json=body, headers=bearer(moderator)
    )
    assert muted.status_code == 200, muted.text
    removed = await client.delete("/v1/rooms/r1/participants/g", headers=bearer(moderator))
    assert assert_error(removed, 403, "forbidden")["details"]["missing"] == "admin"
    room_admin = livekit(boot, "r1", "h", admin=True)  # LiveKit's roomAdmin, used as it is
    removed = await client.delete("/v1/rooms/r1/participants/g", headers=bearer(room_admin))
    assert removed.status_code == 200 and removed.json()["banned"] is False


async def test_the_join_answers_have_the_documented_shapes(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    host = await join(client, "r1", vs(boot, "h", "allow_mod"))
    keys = {"status", "session_id", "session_token", "participant", "participants"}
    assert set(host) == keys | {"participants_total"}
    assert set(host["participant"]) >= {"identity", "name", "role", "grant", "joined_at"}
    assert host["participant"]["name"] is None  # VideoSDK carries no name: null, not absent
    guest = await join(client, "r1", vs(boot, "g", "ask_join"), 202)
    assert set(guest) == {"status", "session_id", "session_token", "position"}
    # the route skips the response model's validation: the answers must still be its shape
    for answer in (host, guest):
        JoinPublic.model_validate(answer, strict=True)
    listed = await client.get("/v1/rooms/r1/participants", headers=bearer(host["session_token"]))
    ParticipantsPublic.model_validate(listed.json(), strict=True)


async def test_a_join_lists_the_first_participants_and_counts_them_all(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    """Regression: every join answered with the whole room (O(N) bytes a join)."""
    for i in range(JOIN_PARTICIPANTS_MAX + 2):
        answer = await join(client, "big", vs(boot, f"p{i}", room="big"))
    assert answer["participants_total"] == JOIN_PARTICIPANTS_MAX + 2
    listed = [p["identity"] for p in answer["participants"]]
    assert listed == [f"p{i}" for i in range(JOIN_PARTICIPANTS_MAX)]  # joining order
    every = await client.get("/v1/rooms/big/participants", headers=bearer(answer["session_token"]))
    assert len(every.json()["data"]) == JOIN_PARTICIPANTS_MAX + 2
