"""Regressions from a hostile probe of the HTTP API: forged formats, deep JSON, unknown claims."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from api_support import assert_error, make_settings
from fastapi import FastAPI

from roomkey import jws
from roomkey._codec import MAX_JSON_DEPTH
from roomkey.claims import MAX_CLAIM_DEPTH
from roomkey.dialects import HUDDLE01
from roomkey.keys import HmacKey
from roomkey.service import Bootstrap, RoomkeyService

BODY_METHODS = {"POST", "PUT", "PATCH"}
# 0..2000 in steps of 50, the edges of roomkey's limit, and those of orjson's own (1024).
DEPTHS = sorted(
    {*range(0, 2001, 50), MAX_CLAIM_DEPTH, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 1022, 1023, 1024}
    | {1025, 1026}
)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RoomkeyService]:
    """The suite's service with the default body cap, so every depth here reaches the parser."""
    node = await RoomkeyService.open(make_settings(tmp_path))
    try:
        yield node
    finally:
        await node.close()


def nested(depth: int) -> Any:
    """``depth`` levels of objects and arrays, alternating, the outermost an object."""
    value: Any = 1
    for level in range(depth):
        value = {"k": value} if (depth - level) % 2 else [value]
    return value


def nested_json(depth: int) -> bytes:
    """``nested(depth)`` as JSON text, written directly (encoders give up long before 2,000)."""
    outermost_first = [(b'{"k":', b"}") if i % 2 == 0 else (b"[", b"]") for i in range(depth)]
    opens = b"".join(o for o, _ in outermost_first)
    return opens + b"1" + b"".join(c for _, c in reversed(outermost_first))


def body_with(fields: dict[str, Any], member: str, depth: int) -> bytes:
    """A JSON object of ``fields`` plus ``member`` nested ``depth`` levels."""
    head = orjson.dumps(fields)[:-1] + (b"," if fields else b"")
    return head + orjson.dumps(member) + b":" + nested_json(depth) + b"}"


async def test_huddle01_token_signed_with_the_api_secret_is_not_valid(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    """An API client holds its HMAC secret; a Huddle01 token it signs with it is no host token."""
    payload = {"iss": boot.api_key, "roomId": "r1", "peerId": "mallory", "role": "host"}
    payload |= {"permissions": {"admin": True}, "exp": int(time.time()) + 600}
    token = jws.encode(payload, HmacKey(boot.api_key, boot.api_secret))
    assert HUDDLE01.matches(payload)
    response = await client.post("/v1/tokens/verify", json={"token": token})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False and body["code"] == "disallowed_algorithm"


# ---- nesting depth -------------------------------------------------------------------------


def _body_routes(app: FastAPI) -> list[tuple[str, str, list[str] | None]]:
    """(method, path, body members) of every operation whose method may carry a body.

    From the app's own OpenAPI document, so a route added later is swept too; the members are
    None for an operation that documents no body (and so reads none).
    """
    out = []
    for template, operations in app.openapi()["paths"].items():
        path = template.replace("{", "").replace("}", "")  # a literal for each parameter
        for method, operation in operations.items():
            if method.upper() not in BODY_METHODS:
                continue
            if "requestBody" not in operation:
                out.append((method.upper(), path, None))
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            out.append((method.upper(), path, list(schema.get("properties", {}))))
    return out


def _nest_into(members: list[str]) -> str:
    """The member a deep value is put in: a free-form one where the route has one."""
    for name in ("metadata", "room_config", "permissions"):
        if name in members:
            return name
    return members[0] if members else "anything"


async def test_no_body_nesting_gets_a_5xx_on_any_route(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str], boot: Bootstrap
) -> None:
    """Every depth from none to twice orjson's limit, in a member and as the whole body."""
    enabled = await client.patch("/v1/project", json={"sandbox_enabled": True}, headers=auth)
    assert enabled.status_code == 200
    headers = {**auth, "X-Sandbox-ID": boot.project_id}
    routes = _body_routes(app)
    assert {"/v1/tokens", "/v1/rooms", "/token", "/v1/tokens/verify"} <= {p for _, p, _ in routes}
    for method, path, members in routes:
        member = _nest_into(members or [])
        for depth in DEPTHS:
            for body, shape in ((body_with({}, member, depth), member), (nested_json(depth), "")):
                response = await client.request(method, path, content=body, headers=headers)
                where = f"{method} {path} {shape or 'whole body'} at depth {depth}"
                assert response.status_code < 500, (where, response.text)
                if depth > MAX_JSON_DEPTH and members is not None:
                    error = assert_error(response, 400, "nested_too_deep")
                    assert error["details"]["limit"] in (MAX_CLAIM_DEPTH, MAX_JSON_DEPTH), where


@pytest.mark.parametrize(
    ("path", "member"), [("/v1/tokens", "metadata"), ("/v1/rooms", "metadata")]
)
@pytest.mark.parametrize("depth", [MAX_CLAIM_DEPTH + 1, 500, 1000, 1022])
async def test_a_member_nested_too_deep_is_a_400_naming_it(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, member: str, depth: int
) -> None:
    """The probe's 500s (RecursionError at 950-1022 levels): now one 400 naming the member."""
    fields = {"identity": "alice"} if path == "/v1/tokens" else {}
    response = await client.post(path, content=body_with(fields, member, depth), headers=auth)
    error = assert_error(response, 400, "nested_too_deep")
    assert error["details"] == {"field": member, "limit": MAX_CLAIM_DEPTH}


async def test_past_orjsons_own_limit_the_body_is_still_too_deep_not_broken(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    raw = b'{"metadata":' + b"[" * 1100 + b"]" * 1100 + b"}"
    response = await client.post("/v1/tokens", content=raw, headers=auth)
    assert assert_error(response, 400, "nested_too_deep")["details"]["limit"] == MAX_JSON_DEPTH


@pytest.mark.parametrize(
    ("dialect", "member"),
    [
        ("native", "metadata"),
        ("native", "room_config"),
        ("huddle01", "metadata"),
        ("livekit", "metadata"),
        ("livekit", "room_config"),
    ],
)
async def test_a_token_minted_at_the_limit_verifies(
    client: httpx.AsyncClient, auth: dict[str, str], dialect: str, member: str
) -> None:
    """What the server signs, its verifier accepts: the limit is the verifier's own."""
    deepest = nested(MAX_CLAIM_DEPTH)  # the outermost an object, as room_config must be
    body = {"identity": "alice", "room": "r1", "dialect": dialect, member: deepest}
    minted = await client.post("/v1/tokens", json=body, headers=auth)
    assert minted.status_code == 201, minted.text
    checked = await client.post("/v1/tokens/verify", json={"token": minted.json()["token"]})
    assert checked.json()["valid"] is True, checked.text
    over = await client.post("/v1/tokens", json={**body, member: {"k": deepest}}, headers=auth)
    assert assert_error(over, 400, "nested_too_deep")["details"]["field"] == member


# ---- unknown claims ------------------------------------------------------------------------


async def _resigned(
    client: httpx.AsyncClient, auth: dict[str, str], boot: Bootstrap, dialect: str, **extra: Any
) -> str:
    """A token minted by the server in ``dialect``, with ``extra`` claims added and re-signed."""
    body = {"identity": "alice", "room": "r1", "dialect": dialect}
    minted = await client.post("/v1/tokens", json=body, headers=auth)
    assert minted.status_code == 201, minted.text
    payload = jws.parse(minted.json()["token"]).payload | extra
    return jws.encode(payload, HmacKey(boot.api_key, boot.api_secret))


async def test_verify_refuses_an_unknown_native_claim_by_name(
    client: httpx.AsyncClient, auth: dict[str, str], boot: Bootstrap
) -> None:
    token = await _resigned(client, auth, boot, "native", video={"roomAdmin": True})
    body = (await client.post("/v1/tokens/verify", json={"token": token})).json()
    assert (body["valid"], body["code"], body["details"]) == (
        False,
        "invalid_claims",
        {"claim": "video"},
    )


@pytest.mark.parametrize("dialect", ["livekit", "videosdk"])
async def test_verify_lists_unknown_claims_of_other_formats(
    client: httpx.AsyncClient, auth: dict[str, str], boot: Bootstrap, dialect: str
) -> None:
    token = await _resigned(client, auth, boot, dialect, x_custom=1)
    body = (await client.post("/v1/tokens/verify", json={"token": token})).json()
    assert body["valid"] is True, body
    assert body["details"] == {"unknown_keys": ["x_custom"]}
