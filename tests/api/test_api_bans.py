"""The bans routes: rooms:moderate for that room, 403 banned at issuance, lifting."""

from __future__ import annotations

import time

import httpx
import jwt
from api_support import assert_error

from roomkey.service import Bootstrap


async def _issue(client: httpx.AsyncClient, auth: dict[str, str], identity: str) -> httpx.Response:
    body = {"identity": identity, "room": "weekly"}
    return await client.post("/v1/tokens", json=body, headers=auth)


async def _verify(client: httpx.AsyncClient, token: str) -> dict[str, object]:
    answer = await client.post("/v1/tokens/verify", json={"token": token})
    body: dict[str, object] = answer.json()
    return body


async def test_ban_list_and_lift_over_http(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await client.post("/v1/rooms", json={"customRoomId": "weekly"}, headers=auth)
    held = (await _issue(client, auth, "mallory")).json()["token"]
    made = await client.post(
        "/v1/rooms/weekly/bans", json={"identity": "mallory", "reason": "spam"}, headers=auth
    )
    assert made.status_code == 201, made.text
    ban = made.json()
    assert (ban["identity"], ban["reason"], ban["lifted_at"]) == ("mallory", "spam", None)
    assert ban["created_by"].endswith(":admin")
    listed = await client.get("/v1/rooms/weekly/bans", headers=auth)
    assert listed.status_code == 200 and listed.json() == [ban]
    refused = assert_error(await _issue(client, auth, "mallory"), 403, "banned")
    assert refused["details"] == {"room": "weekly", "identity": "mallory"}
    assert (await _verify(client, held))["valid"] is False

    lifted = await client.delete("/v1/rooms/weekly/bans/mallory", headers=auth)
    assert lifted.status_code == 200 and lifted.json()["lifted_at"] is not None
    assert (await _verify(client, held))["valid"] is False  # the revocation stays
    assert (await _issue(client, auth, "mallory")).status_code == 201
    assert (await client.get("/v1/rooms/weekly/bans", headers=auth)).json() == []
    again = await client.delete("/v1/rooms/weekly/bans/mallory", headers=auth)
    assert assert_error(again, 404, "not_found")["details"]["resource"] == "ban"


async def test_lifting_with_its_revocations_over_http(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await client.post("/v1/rooms", json={"customRoomId": "weekly"}, headers=auth)
    held = (await _issue(client, auth, "mallory")).json()["token"]
    await client.post("/v1/rooms/weekly/bans", json={"identity": "mallory"}, headers=auth)
    lifted = await client.delete(
        "/v1/rooms/weekly/bans/mallory", params={"lift_revocations": "true"}, headers=auth
    )
    assert lifted.status_code == 200, lifted.text
    assert (await _verify(client, held))["valid"] is True


async def test_a_ban_needs_an_existing_room(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    made = await client.post("/v1/rooms/nowhere/bans", json={"identity": "x"}, headers=auth)
    assert_error(made, 404, "not_found")
    bad = await client.post("/v1/rooms/nowhere/bans", json={"identity": ""}, headers=auth)
    assert_error(bad, 422, "validation_error")


async def test_a_room_admin_participant_moderates_the_bans_of_its_own_room_only(
    client: httpx.AsyncClient, auth: dict[str, str], boot: Bootstrap
) -> None:
    for name in ("weekly", "daily"):
        await client.post("/v1/rooms", json={"customRoomId": name}, headers=auth)
    now = int(time.time())
    video = {"roomJoin": True, "roomAdmin": True, "room": "weekly"}
    claims = {"iss": boot.api_key, "sub": "host", "iat": now, "exp": now + 600, "video": video}
    host = {"Authorization": f"Bearer {jwt.encode(claims, boot.api_secret, 'HS256')}"}
    made = await client.post("/v1/rooms/weekly/bans", json={"identity": "mallory"}, headers=host)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"].endswith(":host")
    assert (await client.get("/v1/rooms/weekly/bans", headers=host)).status_code == 200
    for method, path in (
        ("GET", "/v1/rooms/daily/bans"),
        ("POST", "/v1/rooms/daily/bans"),
        ("DELETE", "/v1/rooms/daily/bans/mallory"),
    ):
        response = await client.request(method, path, headers=host, json={"identity": "m"})
        assert assert_error(response, 403, "forbidden")["details"]["missing"] == "rooms:moderate"
