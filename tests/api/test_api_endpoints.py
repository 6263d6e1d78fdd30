"""The HTTP API in-process: every way to mint, verify, the error shape, limits, metrics."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from api_support import assert_error

from roomkey.minting import AccessToken
from roomkey.service import Bootstrap, RoomkeyService


async def mint(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/tokens", json={"identity": "alice", "room": "r1", **body}, headers=auth
    )
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def verify(client: httpx.AsyncClient, token: str, **kw: Any) -> dict[str, Any]:
    response = await client.post("/v1/tokens/verify", json={"token": token, **kw})
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


@pytest.mark.parametrize("dialect", ["native", "livekit", "videosdk", "huddle01"])
async def test_v1_tokens_in_every_dialect(
    client: httpx.AsyncClient, auth: dict[str, str], dialect: str
) -> None:
    out = await mint(client, auth, dialect=dialect, role="host", ttl_s=120)
    assert out["dialect"] == dialect and out["jti"]
    checked = await verify(client, out["token"], room="r1", identity="alice")
    assert checked["valid"] and checked["dialect"] == dialect
    assert dialect not in ("native", "huddle01") or checked["claims"]["role"] == "host"
    assert checked["grant"]["can_produce"] is True
    assert checked["claims"]["expires_at"] == out["expires_at"]


async def test_livekit_endpoint_like_curl(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    raw = b'{"room_name":"r1","participant_identity":"alice"}'
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # what curl -d sends
    for headers in ({**auth, **form}, auth, {**auth, "Content-Type": "application/json"}):
        response = await client.post("/token", content=raw, headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"server_url", "participant_token"}
        checked = await verify(client, body["participant_token"], room="r1", identity="alice")
        assert checked["dialect"] == "livekit"
    # VideoSDK style: the raw token, no "Bearer"
    response = await client.post("/token", content=raw, headers={"Authorization": boot.admin_token})
    assert response.status_code == 201


async def test_template_route_returns_text(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post(
        "/createToken", json={"roomName": "r9", "participantName": "zoe"}, headers=auth
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    checked = await verify(client, response.text, room="r9", identity="zoe")
    assert checked["valid"] and checked["grant"]["can_update_metadata"] is True


async def test_sandbox_only_when_enabled(
    client: httpx.AsyncClient, boot: Bootstrap, auth: dict[str, str]
) -> None:
    url, sid = "/api/v2/sandbox/connection-details", {"X-Sandbox-ID": boot.project_id}
    assert_error(await client.post(url, json={}, headers=sid), 404, "not_found")
    patched = await client.patch("/v1/project", json={"sandbox_enabled": True}, headers=auth)
    assert patched.status_code == 200 and patched.json()["settings"]["sandbox_enabled"]
    response = await client.post(url, json={"room_name": "demo"}, headers=sid)
    assert response.status_code == 201, response.text
    checked = await verify(client, response.json()["participant_token"], room="demo")
    assert checked["valid"]
    claims = checked["claims"]
    assert claims["expires_at"] - claims["issued_at"] <= 900
    assert_error(
        await client.post(url, json={}, headers={"X-Sandbox-ID": "nope"}), 404, "not_found"
    )


async def test_rtc_validate(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    token = (await mint(client, auth))["token"]
    ok = await client.get("/rtc/validate", params={"access_token": token})
    assert ok.status_code == 200 and ok.json()["valid"]
    by_header = await client.get("/rtc/validate", headers={"Authorization": f"Bearer {token}"})
    assert by_header.status_code == 200
    bad = await client.get("/rtc/validate", params={"access_token": token[:-3] + "AAA"})
    assert bad.status_code == 401
    assert bad.json()["valid"] is False and bad.json()["code"] == "bad_signature"


async def test_secret_shown_once(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await client.post("/v1/keys", json={"description": "ci"}, headers=auth)
    assert created.status_code == 201
    secret, kid = created.json()["api_secret"], created.json()["api_key"]
    assert secret and kid
    listed = await client.get("/v1/keys", headers=auth)
    one = await client.get(f"/v1/keys/{kid}", headers=auth)
    for response in (listed, one):
        assert response.status_code == 200
        assert secret not in response.text and "api_secret" not in response.text
    offline = AccessToken(kid, secret).with_identity("a").with_room("r").to_jwt()
    assert (await verify(client, offline))["valid"]


async def test_participant_token_is_forbidden_on_management_routes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    participant = {"Authorization": f"Bearer {(await mint(client, auth))['token']}"}
    for method, path in (("GET", "/v1/keys"), ("GET", "/v1/rooms"), ("POST", "/v1/tokens")):
        response = await client.request(method, path, headers=participant, json={})
        body = assert_error(response, 403, "forbidden")
        assert body["details"]["reason"] == "wrong_scope"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_token"),
        ("Bearer", "malformed"),
        ("Bearer garbage", "malformed"),
        ("Bearer a.b.c", "malformed"),
        ("Token abc def", "malformed"),
        ("Bearer " + "x" * 60_000, "token_too_large"),
        ("\u00e9t\u00e9", "malformed"),
    ],
)
async def test_bad_authorization_is_401_with_a_reason(
    client: httpx.AsyncClient, header: str | None, reason: str
) -> None:
    headers = {} if header is None else {"Authorization": header.encode("utf-8")}
    response = await client.get("/v1/keys", headers=headers)
    body = assert_error(response, 401, "unauthorized")
    assert "Token is invalid or expired" in body["message"]
    assert body["details"]["reason"] == reason


async def test_expired_server_token_is_401_expired(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    expired = (
        AccessToken(boot.api_key, boot.api_secret, now=lambda: 1_600_000_000.0)
        .with_identity("admin")
        .with_scope("api")
        .to_jwt()
    )
    body = assert_error(
        await client.get("/v1/keys", headers={"Authorization": f"Bearer {expired}"}),
        401,
        "unauthorized",
    )
    assert body["details"]["reason"] == "expired"


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 422, "validation_error"),
        (b'{"identity": "a", "colour": "red"}', 422, "validation_error"),
        (b'{"ttl_s": "60"}', 422, "validation_error"),
        (b'{"ttl_s": 0}', 422, "validation_error"),
        (b'{"dialect": "zoom"}', 422, "validation_error"),
        (b"[1, 2]", 422, "validation_error"),
        (b'"\xff\xfe"', 422, "validation_error"),
        (b'{"role": "wizard"}', 400, "invalid_role"),
        (b'{"permissions": {"can_publsh": true}}', 400, "invalid_grant"),
        (b'{"ttl_s": 999999}', 400, "invalid_claim_value"),
        (b'{"identity": "a\\u0000b"}', 400, "invalid_claim_value"),
        (b'{"metadata": "' + b"x" * 3000 + b'"}', 413, "body_too_large"),
    ],
)
async def test_bad_bodies_get_the_one_error_shape(
    client: httpx.AsyncClient, auth: dict[str, str], content: bytes, status: int, code: str
) -> None:
    response = await client.post(
        "/v1/tokens", content=content * (2 if status == 413 else 1), headers=auth
    )
    assert_error(response, status, code)


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("/token", b'{"room_nam": "r1"}', "room_nam: unknown field; did you mean 'room_name'?"),
        ("/token", b'{"roomName": "r1"}', "roomName: unknown field; did you mean 'room_name'?"),
        ("/v1/tokens", b'{"rol": "host"}', "rol: unknown field; did you mean 'role'?"),
        ("/v1/tokens", b'{"zzz": 1}', "zzz: unknown field (known: identity, room, dialect,"),
    ],
)
async def test_a_misspelt_field_is_named_with_what_it_probably_meant(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, content: bytes, message: str
) -> None:
    response = await client.post(path, content=content, headers=auth)
    body = assert_error(response, 422, "validation_error")
    assert body["message"].startswith(message), body["message"]


async def test_streamed_body_over_the_cap_is_413(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    response = await client.post("/v1/tokens", content=chunks(), headers=auth)
    assert_error(response, 413, "body_too_large")


async def test_unknown_routes_and_methods(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert_error(await client.get("/nope"), 404, "not_found")
    response = await client.delete("/v1/rooms", headers=auth)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


async def test_rate_limit_is_429_with_retry_after(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    patched = await client.patch("/v1/project", json={"rate_limit_per_min": 3}, headers=auth)
    assert patched.status_code == 200
    for _ in range(3):
        await mint(client, auth)
    response = await client.post("/v1/tokens", json={}, headers=auth)
    body = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert body["details"]["limit_per_min"] == 3
    # verification is not rate limited by issuance
    assert (await client.post("/v1/tokens/verify", json={"token": "x"})).status_code == 200


async def test_verify_reasons(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    token = (await mint(client, auth, room="gone"))["token"]
    assert (await verify(client, token, room="other"))["code"] == "wrong_room"
    assert (await verify(client, token, identity="bob"))["code"] == "wrong_identity"
    assert (await verify(client, token, scope="api"))["code"] == "wrong_scope"
    assert (await client.post("/v1/rooms/gone/deactivate", headers=auth)).status_code == 200
    assert (await verify(client, token))["code"] == "room_inactive"
    await client.patch("/v1/project", json={"auto_create_rooms": False}, headers=auth)
    refused = await client.post("/v1/tokens", json={"room": "fresh"}, headers=auth)
    assert_error(refused, 404, "unknown_room")
    assert (await verify(client, "garbage"))["code"] == "malformed"


async def test_rooms_roles_revocations(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first = await client.post("/v1/rooms", json={"customRoomId": "daily"}, headers=auth)
    again = await client.post("/v1/rooms", json={"customRoomId": "daily"}, headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["roomId"] == again.json()["roomId"]
    role = await client.put(
        "/v1/roles/presenter",
        json={"permissions": {"canPublish": True, "sources": ["cam"]}},
        headers=auth,
    )
    assert role.status_code == 200 and role.json()["grant"]["can_produce"]
    token = (await mint(client, auth, room="daily", role="presenter"))["token"]
    assert (await verify(client, token))["claims"]["role"] == "presenter"
    rule = await client.post(
        "/v1/revocations", json={"identity": "alice", "room": "daily"}, headers=auth
    )
    assert rule.status_code == 201
    assert (await verify(client, token))["code"] == "revoked"
    lifted = await client.delete(f"/v1/revocations/{rule.json()['id']}", headers=auth)
    assert lifted.status_code == 200 and lifted.json()["lifted_at"]
    assert (await verify(client, token))["valid"]
    assert_error(
        await client.post("/v1/revocations", json={}, headers=auth), 400, "invalid_claim_value"
    )
    assert_error(await client.get("/v1/roles/nobody", headers=auth), 404, "not_found")


async def test_another_projects_key_cannot_reach_this_projects_rooms(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    room = (await client.post("/v1/rooms", json={}, headers=auth)).json()["roomId"]
    created = await client.post("/v1/projects", json={"name": "tenant-b"}, headers=auth)
    assert created.status_code == 201, created.text
    b = created.json()
    b_token = (
        AccessToken(b["api_key"], b["api_secret"]).with_identity("eve").with_room(room).to_jwt()
    )
    assert (await verify(client, b_token, project=b["id"]))["code"] == "wrong_room"
    b_admin = (
        AccessToken(b["api_key"], b["api_secret"])
        .with_identity("b")
        .with_scope("api")
        .with_permissions(capabilities=["admin"])
        .to_jwt()
    )
    b_auth = {"Authorization": f"Bearer {b_admin}"}
    refused = await client.post("/v1/tokens", json={"room": room}, headers=b_auth)
    assert_error(refused, 403, "wrong_room")
    assert (await client.get("/v1/rooms", headers=b_auth)).json()["data"] == []
    assert_error(
        await client.post("/v1/projects", json={"name": "c"}, headers=b_auth), 403, "forbidden"
    )


async def test_verification_never_queries_the_database(
    client: httpx.AsyncClient, auth: dict[str, str], service: RoomkeyService
) -> None:
    token = (await mint(client, auth))["token"]
    real = service.ctx.store
    service.ctx.store = _Unreachable()  # type: ignore[assignment]
    try:
        for _ in range(3):
            assert (await verify(client, token, room="r1"))["valid"]
            assert (
                await client.get("/rtc/validate", params={"access_token": token})
            ).status_code == 200
        # the management API does need the database: it fails cleanly, not with a traceback
        response = await client.get("/readyz")
        assert response.status_code == 503
    finally:
        service.ctx.store = real


class _Unreachable:
    def __getattr__(self, name: str) -> Any:
        raise ConnectionError(f"database unreachable ({name})")


async def test_health_and_metrics(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    token = (await mint(client, auth))["token"]
    await verify(client, token)
    await verify(client, "nope")
    text = (await client.get("/metrics")).text
    assert 'roomkey_tokens_issued_total{dialect="native",endpoint="/v1/tokens"} 1.0' in text
    assert 'roomkey_verifications_total{outcome="valid"} 1.0' in text
    assert 'roomkey_verifications_total{outcome="malformed"} 1.0' in text
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
    assert orjson.loads((await client.get("/openapi.json")).content)["openapi"].startswith("3.")
