"""Two projects on one server: every route of project A, tried with B's credentials and tokens.

B's admin token reaches each of A's keys, rooms, roles, revocations and audit rows by id, and
B's participant tokens are verified for A: nothing of A is read, changed or accepted. The
regression: a token B minted for its own room verified ``valid: true`` though A's media server
asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from api_support import assert_error

from roomkey.api.access import api_routes, requirement
from roomkey.api.routes import ROUTERS
from roomkey.minting import AccessToken
from roomkey.service import Bootstrap


@dataclass
class Tenant:
    project: str
    api_key: str
    secret: str
    admin: dict[str, str]
    kid: str = ""
    room: str = ""
    revocation: str = ""
    jti: str = ""
    token: str = ""
    webhook: str = ""


def _admin(project: str, api_key: str, secret: str) -> Tenant:
    token = (
        AccessToken(api_key, secret)
        .with_identity("admin")
        .with_scope("api")
        .with_permissions(capabilities=["admin"])
        .to_jwt()
    )
    return Tenant(project, api_key, secret, {"Authorization": f"Bearer {token}"})


async def _populate(client: httpx.AsyncClient, t: Tenant, room: str) -> None:
    """A key, a room, a role, a revocation and an issued token of tenant ``t``."""
    key = await client.post("/v1/keys", json={"description": "second"}, headers=t.admin)
    t.kid = key.json()["kid"]
    made = await client.post("/v1/rooms", json={"customRoomId": room}, headers=t.admin)
    assert made.status_code == 201, made.text
    t.room = made.json()["roomId"]
    role = {"permissions": {"can_consume": True}}
    assert (await client.put("/v1/roles/presenter", json=role, headers=t.admin)).status_code == 200
    body = {"identity": "alice", "room": room, "ttl_s": 600}
    minted = (await client.post("/v1/tokens", json=body, headers=t.admin)).json()
    t.token, t.jti = minted["token"], minted["jti"]
    rule = await client.post("/v1/revocations", json={"identity": "mallory"}, headers=t.admin)
    t.revocation = rule.json()["id"]
    # a public address literal (nothing to resolve), disabled: nothing is ever sent to it
    hook = {"url": "https://1.1.1.1/roomkey", "enabled": False}
    made_hook = await client.post("/v1/webhooks", json=hook, headers=t.admin)
    assert made_hook.status_code == 201, made_hook.text
    t.webhook = made_hook.json()["id"]


@pytest.fixture
async def tenants(client: httpx.AsyncClient, boot: Bootstrap) -> tuple[Tenant, Tenant]:
    a = _admin(boot.project_id, boot.api_key, boot.api_secret)
    created = await client.post("/v1/projects", json={"name": "tenant-b"}, headers=a.admin)
    assert created.status_code == 201, created.text
    info = created.json()
    b = _admin(info["id"], info["api_key"], info["api_secret"])
    await _populate(client, a, "boardroom")
    await _populate(client, b, "b-standup")
    return a, b


def _paths_for(a: Tenant) -> list[tuple[str, str]]:
    """Every route that requires a capability, its ids filled with A's."""
    ids = {
        "kid": a.kid,
        "room_id": a.room,
        "room": a.room,
        "identity": "alice",
        "name": "presenter",
        "revocation_id": a.revocation,
        "session_id": "ses_none",
        "webhook_id": a.webhook,
        "delivery_id": "1",
    }
    out = []
    for route in api_routes(ROUTERS):
        if requirement(route) is None:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route.path)
        out.extend((method, path) for method in sorted(route.methods or ()))
    return out


BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/roles/presenter"): {"permissions": {"admin": True}},
    ("POST", "/v1/tokens"): {"identity": "eve", "room": "boardroom"},
    ("POST", "/token"): {"room_name": "boardroom", "participant_identity": "eve"},
    ("POST", "/createToken"): {"roomName": "boardroom", "participantName": "eve"},
    ("POST", "/v1/rooms"): {"customRoomId": "boardroom"},
    ("POST", "/v1/revocations"): {"jti": "placeholder"},
}


async def test_b_reaches_nothing_of_a_through_any_route(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    secrets_of_a = [a.project, a.kid, a.room, a.revocation, a.jti, a.api_key, a.webhook]
    sent = ""  # what B itself sent may come back (B's own revocation of A's jti, say)
    for method, path in _paths_for(a):
        body = BODIES.get((method, path), {})
        if path == "/v1/revocations" and method == "POST":
            body = {"jti": a.jti}  # B revokes A's token id: it must not touch A's token
        if path.endswith("/bans") and method == "POST":
            body = {"identity": "alice"}  # B bans A's participant from A's room: 404
        response = await client.request(method, path, headers=b.admin, json=body)
        sent += f" {path} {body}"
        leaked = [s for s in secrets_of_a if s in response.text and s not in sent]
        assert not leaked, (method, path, response.text)
        if any(s in path for s in (a.kid, a.room, a.revocation, a.webhook)):
            assert response.status_code in (403, 404), (method, path, response.text)
    await _a_is_intact(client, a)


async def _a_is_intact(client: httpx.AsyncClient, a: Tenant) -> None:
    keys = {k["kid"]: k for k in (await client.get("/v1/keys", headers=a.admin)).json()}
    assert keys[a.kid]["status"] == "active"
    room = (await client.get(f"/v1/rooms/{a.room}", headers=a.admin)).json()
    assert room["active"] is True
    hook = (await client.get(f"/v1/webhooks/{a.webhook}", headers=a.admin)).json()
    assert hook["url"] == "https://1.1.1.1/roomkey" and hook["enabled"] is False
    role = (await client.get("/v1/roles/presenter", headers=a.admin)).json()
    assert role["grant"]["admin"] is False
    rules = (await client.get("/v1/revocations", headers=a.admin)).json()
    assert (await client.get(f"/v1/rooms/{a.room}/bans", headers=a.admin)).json() == []
    assert [r["id"] for r in rules if r["lifted_at"] is None] == [a.revocation]
    audit = (await client.get("/v1/audit", headers=a.admin)).json()["data"]
    assert [row["jti"] for row in audit] == [a.jti]
    check = await client.post(
        "/v1/tokens/verify", json={"token": a.token, "room": "boardroom", "project": a.project}
    )
    assert check.json()["valid"] is True


async def test_verification_is_bound_to_one_project(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    verify = "/v1/tokens/verify"
    # two projects and nothing to bind to: refused, not answered for whichever project
    refused = await client.post(verify, json={"token": b.token})
    assert_error(refused, 400, "project_required")
    # B's genuine token, asked about on behalf of A: invalid, with its own code
    for how in ({"json": {"token": b.token, "project": a.project}},):
        answer = (await client.post(verify, **how)).json()  # type: ignore[arg-type]
        assert (answer["valid"], answer["code"], answer["project"]) == (
            False,
            "wrong_project",
            a.project,
        )
    verifier_a = _verifier(a)
    answer = (await client.post(verify, json={"token": b.token}, headers=verifier_a)).json()
    assert (answer["code"], answer["project"]) == ("wrong_project", a.project)
    answer = (await client.post(verify, json={"token": a.token}, headers=verifier_a)).json()
    assert (answer["valid"], answer["project"]) == (True, a.project)
    # a server token fixes the project: it cannot ask on behalf of another one
    other = await client.post(
        verify, json={"token": b.token, "project": b.project}, headers=verifier_a
    )
    assert_error(other, 403, "forbidden")
    unknown = await client.post(verify, json={"token": a.token, "project": "prj_nope"})
    assert_error(unknown, 404, "unknown_project")


async def test_rtc_validate_follows_the_same_rule(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    bare = await client.get("/rtc/validate", params={"access_token": b.token})
    assert_error(bare, 400, "project_required")
    wrong = await client.get(
        "/rtc/validate", params={"access_token": b.token, "project": a.project}
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "wrong_project"
    own = await client.get("/rtc/validate", params={"access_token": b.token, "project": b.project})
    assert own.status_code == 200 and own.json()["project"] == b.project


async def test_b_cannot_mint_for_as_room_nor_use_its_tokens_there(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    by_id = {"identity": "eve", "room": a.room}
    assert_error(await client.post("/v1/tokens", json=by_id, headers=b.admin), 403, "wrong_room")
    # B may have a room of its own called "boardroom" (names are per project) ...
    by_name = {"identity": "eve", "room": "boardroom"}
    own = await client.post("/v1/tokens", json=by_name, headers=b.admin)
    assert own.status_code == 201, own.text
    # ... but A's media server, asking about A's "boardroom", never accepts B's token for it
    for token in (own.json()["token"], b.token):
        named = {"token": token, "room": "boardroom", "project": a.project}
        answer = (await client.post("/v1/tokens/verify", json=named)).json()
        assert (answer["valid"], answer["code"]) == (False, "wrong_project")
        fixed = {"token": token, "room": "boardroom"}
        answer = (await client.post("/v1/tokens/verify", json=fixed, headers=_verifier(a))).json()
        assert (answer["valid"], answer["code"]) == (False, "wrong_project")
    # B's admin token is no credential of A: A's key is not found from B
    assert_error(await client.get(f"/v1/keys/{a.kid}", headers=b.admin), 404, "not_found")


def _verifier(t: Tenant) -> dict[str, str]:
    token = (
        AccessToken(t.api_key, t.secret)
        .with_identity("media")
        .with_scope("api")
        .with_permissions(capabilities=["tokens:verify"])
        .to_jwt()
    )
    return {"Authorization": f"Bearer {token}"}
