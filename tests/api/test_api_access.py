"""Least privilege: every route requires one capability, and a token gets exactly what it names.

Regression tests for the findings of a hostile probe: a VideoSDK token without ``roles`` and
LiveKit tokens whose only API grant is ``roomRecord`` or ``ingressAdmin`` had full management
access; the lean ``/token`` path repeated the caller pipeline by hand; a repeated
``Authorization`` header was read first-wins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from api_support import assert_error
from fastapi import FastAPI

from roomkey.api import hot
from roomkey.api.access import PUBLIC_OPERATIONS, api_routes, render, requirement
from roomkey.api.routes import ROUTERS
from roomkey.capabilities import CRAWLER_CAPABILITIES, Capability
from roomkey.minting import AccessToken
from roomkey.service import Bootstrap, RoomkeyService

DOC = Path(__file__).resolve().parents[2] / "docs" / "capabilities.md"
NON_ADMIN = [c for c in Capability if c is not Capability.ADMIN]


def server_token(boot: Bootstrap, *capabilities: str) -> str:
    builder = AccessToken(boot.api_key, boot.api_secret).with_identity("ops")
    return builder.with_scope("api").with_permissions(capabilities=list(capabilities)).to_jwt()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _foreign(boot: Bootstrap, payload: dict[str, Any]) -> str:
    """A token made by PyJWT (not by roomkey) with the project's API key and secret."""
    import time

    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **payload}, boot.api_secret, "HS256")


# ---- every route states its capability ------------------------------------------------------


def test_every_route_requires_one_capability_or_says_why_it_is_public() -> None:
    for route in api_routes(ROUTERS):
        needed = requirement(route)
        public = route.operation_id in PUBLIC_OPERATIONS
        assert (needed is None) == public, route.path
    assert set(PUBLIC_OPERATIONS) <= {r.operation_id for r in api_routes(ROUTERS)}


def test_every_operation_documents_what_it_requires(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, op in operations.items():
            assert re.search(r"\*\*requires:\*\* (`[a-z:]+`|nothing)", op["description"]), (
                method,
                path,
            )


def test_the_capability_table_in_docs_matches_the_app() -> None:
    expected = render(ROUTERS)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "regenerate: python -m roomkey.api.access > docs/capabilities.md"
    )


def test_the_lean_token_route_runs_the_very_pipeline_its_route_declares() -> None:
    by_operation = {r.operation_id: r for r in api_routes(ROUTERS)}
    assert requirement(by_operation["livekit_token"]) is hot.TOKENS_ISSUE
    assert requirement(by_operation["create_token"]) is hot.TOKENS_ISSUE


# ---- a token gets exactly the capabilities it names -------------------------------------------


def _requests() -> list[tuple[str, str, Capability]]:
    """(method, path with placeholder ids, capability) for every route that requires one."""
    out = []
    for route in api_routes(ROUTERS):
        needed = requirement(route)
        if needed is None:
            continue
        path = re.sub(r"\{[^}]+\}", "nothing-here", route.path)
        out.extend((m, path, needed.capability) for m in sorted(route.methods or ()))
    return out


@pytest.mark.parametrize(("method", "path", "capability"), _requests())
async def test_a_token_without_the_capability_is_403_naming_it(
    client: httpx.AsyncClient, boot: Bootstrap, method: str, path: str, capability: Capability
) -> None:
    others = [c.value for c in NON_ADMIN if c is not capability]
    response = await client.request(
        method, path, headers=bearer(server_token(boot, *others)), json={}
    )
    body = assert_error(response, 403, "forbidden")
    assert body["details"]["missing"] == capability.value
    only = await client.request(
        method, path, headers=bearer(server_token(boot, capability.value)), json={}
    )
    assert only.status_code not in (401, 403), only.text


@pytest.mark.parametrize(
    "payload",
    [
        {"permissions": ["allow_join"]},  # the seed's simplest participant token
        {"permissions": ["allow_join"], "roles": []},
        {"permissions": ["allow_join", "allow_mod"]},
        {"permissions": ["allow_join"], "roles": ["rtc"], "participantId": "p1"},
    ],
)
async def test_videosdk_tokens_without_crawler_are_participant_tokens(
    client: httpx.AsyncClient, boot: Bootstrap, payload: dict[str, Any]
) -> None:
    token = _foreign(boot, {"apikey": boot.api_key, "version": 2, **payload})
    for headers in (bearer(token), {"Authorization": token}):  # VideoSDK sends it raw
        for path in ("/v1/keys", "/v1/rooms", "/v1/project"):
            body = assert_error(await client.get(path, headers=headers), 403, "forbidden")
            assert body["details"]["reason"] == "wrong_scope"


async def test_videosdk_crawler_reaches_rooms_and_tokens_never_keys_or_project(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    crawler = {"Authorization": _foreign(boot, {"apikey": boot.api_key, "permissions": [
        "allow_join"], "version": 2, "roles": ["crawler"]})}  # fmt: skip
    assert (await client.get("/v1/rooms", headers=crawler)).status_code == 200
    assert (await client.post("/v1/rooms", json={}, headers=crawler)).status_code == 201
    minted = await client.post("/v1/tokens", json={"identity": "a", "room": "r"}, headers=crawler)
    assert minted.status_code == 201, minted.text
    for method, path in (("GET", "/v1/keys"), ("GET", "/v1/project"), ("GET", "/v1/audit")):
        response = await client.request(method, path, headers=crawler)
        assert_error(response, 403, "forbidden")
    made = await client.post("/v1/projects", json={"name": "x"}, headers=crawler)
    assert assert_error(made, 403, "forbidden")["details"]["missing"] == "admin"


async def test_a_project_may_let_roleless_videosdk_tokens_act_as_crawlers(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    roleless = {"Authorization": _foreign(boot, {"apikey": boot.api_key, "permissions": [
        "allow_join"]})}  # fmt: skip
    assert_error(await client.get("/v1/rooms", headers=roleless), 403, "forbidden")
    opted = await client.patch("/v1/project", json={"videosdk_roleless_api": True}, headers=auth)
    assert opted.status_code == 200 and opted.json()["settings"]["videosdk_roleless_api"]
    assert (await client.get("/v1/rooms", headers=roleless)).status_code == 200
    for path in ("/v1/keys", "/v1/project", "/v1/revocations"):
        assert_error(await client.get(path, headers=roleless), 403, "forbidden")


@pytest.mark.parametrize(
    "video",
    [{"roomRecord": True}, {"ingressAdmin": True}, {"roomRecord": True, "ingressAdmin": True}],
)
async def test_livekit_grants_that_mean_nothing_to_roomkey_give_no_capability(
    client: httpx.AsyncClient, boot: Bootstrap, video: dict[str, Any]
) -> None:
    token = _foreign(boot, {"iss": boot.api_key, "sub": "egress", "video": video})
    for method, path, _ in _requests():
        response = await client.request(method, path, headers=bearer(token), json={})
        assert_error(response, 403, "forbidden")


async def test_livekit_room_create_and_room_list_map_to_rooms_write_and_read(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    lister = bearer(_foreign(boot, {"iss": boot.api_key, "video": {"roomList": True}}))
    creator = bearer(_foreign(boot, {"iss": boot.api_key, "video": {"roomCreate": True}}))
    assert (await client.get("/v1/rooms", headers=lister)).status_code == 200
    refused = await client.post("/v1/rooms", json={}, headers=lister)
    assert assert_error(refused, 403, "forbidden")["details"]["missing"] == "rooms:write"
    assert (await client.post("/v1/rooms", json={}, headers=creator)).status_code == 201
    refused = await client.get("/v1/rooms", headers=creator)
    assert assert_error(refused, 403, "forbidden")["details"]["missing"] == "rooms:read"
    for token in (lister, creator):
        assert_error(await client.get("/v1/keys", headers=token), 403, "forbidden")


async def test_a_livekit_room_admin_token_gets_nothing_but_its_rooms_moderation(
    client: httpx.AsyncClient, boot: Bootstrap, service: RoomkeyService
) -> None:
    video = {"roomJoin": True, "roomAdmin": True, "room": "standup"}
    token = _foreign(boot, {"iss": boot.api_key, "sub": "host", "video": video})
    for method, path, _ in _requests():
        response = await client.request(method, path, headers=bearer(token), json={})
        assert_error(response, 403, "forbidden")
    caller = service.authorize(f"Bearer {token}", Capability.ROOMS_MODERATE, room="standup")
    assert caller.room == "standup" and caller.participant
    with pytest.raises(Exception) as info:
        service.authorize(f"Bearer {token}", Capability.ROOMS_MODERATE, room="other")
    assert getattr(info.value, "code", None) == "forbidden"


# ---- minting server tokens: a subset of the caller's own capabilities --------------------------


async def test_v1_tokens_issues_server_tokens_within_the_callers_capabilities(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    issuer = bearer(server_token(boot, "tokens:issue", "rooms:read"))
    body = {"permissions": {"scope": ["api"], "capabilities": ["rooms:read"]}}
    minted = await client.post("/v1/tokens", json=body, headers=issuer)
    assert minted.status_code == 201, minted.text
    narrow = bearer(minted.json()["token"])
    assert (await client.get("/v1/rooms", headers=narrow)).status_code == 200
    assert_error(await client.post("/v1/rooms", json={}, headers=narrow), 403, "forbidden")
    for wider in (["rooms:write"], ["admin"], ["keys", "rooms:read"]):
        body = {"permissions": {"scope": ["api"], "capabilities": wider}}
        refused = await client.post("/v1/tokens", json=body, headers=issuer)
        details = assert_error(refused, 403, "forbidden")["details"]
        assert details["missing"] in wider and details["missing"] != "rooms:read"


async def test_an_unknown_capability_is_refused_naming_it(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = {"permissions": {"scope": ["api"], "capabilities": ["everything"]}}
    refused = assert_error(
        await client.post("/v1/tokens", json=body, headers=auth), 400, "invalid_grant"
    )
    assert "everything" in refused["message"] and refused["details"]["field"] == "capabilities"


def test_crawler_capabilities_never_include_keys_project_or_admin() -> None:
    assert not CRAWLER_CAPABILITIES & {Capability.KEYS, Capability.PROJECT, Capability.ADMIN}


# ---- one Authorization header ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/keys", None),
        ("POST", "/token", {"room_name": "r"}),  # the lean path
        ("POST", "/v1/tokens", {"identity": "a"}),
        ("POST", "/v1/tokens/verify", {"token": "x.y.z"}),  # the lean path, token optional
    ],
)
async def test_a_repeated_authorization_header_is_refused(
    client: httpx.AsyncClient, boot: Bootstrap, method: str, path: str, body: Any
) -> None:
    good = f"Bearer {boot.admin_token}"
    for second in (good, "Bearer not-a-token"):
        headers = [("Authorization", good), ("Authorization", second)]
        response = await client.request(method, path, headers=headers, json=body)
        assert_error(response, 400, "duplicate_header")
