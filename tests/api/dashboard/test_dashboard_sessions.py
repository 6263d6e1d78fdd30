"""Signing in and out of the dashboard, in process: links, cookies, CSRF, expiry."""

from __future__ import annotations

import re

import httpx
from dashboard_support import Timed, csrf_of, mint, post, server_token, sign_in

from roomkey.service import Bootstrap
from roomkey.service.dashboard import LINK_TTL_S


async def _link(client: httpx.AsyncClient, token: str, **body: object) -> str:
    answer = await client.post(
        "/v1/dashboard/links", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201, answer.text
    path = answer.json()["path"]
    assert re.fullmatch(r"/dashboard/sign-in#link=[\w-]{40,}", path), path
    return str(path.split("#link=")[1])


async def _redeem(client: httpx.AsyncClient, code: str) -> httpx.Response:
    page = await client.get("/dashboard/sign-in")
    return await client.post(
        "/dashboard/sign-in/link", data={"csrf": csrf_of(page.text), "code": code}
    )


async def test_a_link_signs_in_once(client: httpx.AsyncClient, boot: Bootstrap) -> None:
    code = await _link(client, boot.admin_token)
    first = await _redeem(client, code)
    assert first.status_code == 303, first.text
    assert (await client.get("/dashboard")).status_code == 200
    client.cookies.clear()
    again = await _redeem(client, code)
    assert again.status_code == 401
    assert "used already" in again.text


async def test_a_link_expires_and_its_session_never_outlives_the_caller(timed: Timed) -> None:
    code = await _link(timed.client, timed.boot.admin_token)
    timed.clock.advance(LINK_TTL_S + 1)
    assert (await _redeem(timed.client, code)).status_code == 401
    # the bootstrap token lives one hour: a link asking for eight gets what is left
    code = await _link(timed.client, timed.boot.admin_token, ttl_s=8 * 3600)
    answer = await _redeem(timed.client, code)
    assert answer.status_code == 303
    max_age = re.search(r"Max-Age=(\d+)", answer.headers["set-cookie"], re.IGNORECASE)
    assert max_age and 0 < int(max_age.group(1)) <= 3600 - LINK_TTL_S


async def test_a_participant_token_cannot_ask_for_a_link_or_sign_in(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    participant = await mint(client, boot.admin_token, identity="alice", room="r")
    answer = await client.post(
        "/v1/dashboard/links", json={}, headers={"Authorization": f"Bearer {participant}"}
    )
    assert answer.status_code == 403 and answer.json()["details"]["reason"] == "wrong_scope"
    refused = await sign_in(client, participant)
    assert refused.status_code == 401 and "participant" in refused.text
    garbage = await sign_in(client, "not-a-token")
    assert garbage.status_code == 401 and "Token is invalid or expired" in garbage.text


async def test_the_cookie_is_httponly_strict_and_secure_behind_tls(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    answer = await sign_in(client, boot.admin_token)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("roomkey_dashboard=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert boot.admin_token not in cookie
    # behind a TLS-terminating proxy (the browser's side is https)
    async with httpx.AsyncClient(
        transport=client._transport,
        base_url="https://roomkey.test",
        headers={"X-Forwarded-Proto": "https"},
    ) as tls:
        page = await tls.get("/dashboard/sign-in")
        assert "; secure" in page.headers["set-cookie"].lower()
        answer = await tls.post(
            "/dashboard/sign-in",
            data={"csrf": csrf_of(page.text), "token": boot.admin_token},
            headers={"Origin": "https://roomkey.test"},
        )
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-roomkey_dashboard=") and "; secure" in cookie.lower()
        assert (await tls.get("/dashboard")).status_code == 200


async def test_a_session_expires(timed: Timed) -> None:
    assert (await sign_in(timed.client, timed.boot.admin_token)).status_code == 303
    assert (await timed.client.get("/dashboard")).status_code == 200
    timed.clock.advance(3601)  # the bootstrap token, and so the session, lasted one hour
    answer = await timed.client.get("/dashboard/keys")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?reason=session_expired"


async def test_signing_out_revokes_the_session_for_a_copied_cookie(
    admin: httpx.AsyncClient,
) -> None:
    copied = dict(admin.cookies)
    answer = await post(admin, "/dashboard/sign-out")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?reason=signed_out"
    admin.cookies.clear()
    for name, value in copied.items():
        admin.cookies.set(name, value)
    again = await admin.get("/dashboard")
    assert again.status_code == 303 and "reason=revoked" in again.headers["location"]


async def test_a_revoked_or_disabled_key_ends_its_sessions(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    limited = await server_token(admin, boot.admin_token, "rooms:read")
    other = httpx.AsyncClient(transport=admin._transport, base_url=str(admin.base_url))
    async with other:
        assert (await sign_in(other, limited)).status_code == 303
        revoked = await admin.post(
            "/v1/revocations",
            json={"identity": "limited"},
            headers={"Authorization": f"Bearer {boot.admin_token}"},
        )
        assert revoked.status_code == 201, revoked.text
        answer = await other.get("/dashboard/rooms")
        assert answer.status_code == 303 and "reason=revoked" in answer.headers["location"]


async def test_a_link_whose_token_was_revoked_meanwhile_opens_nothing(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    limited = await server_token(client, boot.admin_token, "rooms:read")
    code = await _link(client, limited)
    revoked = await client.post(
        "/v1/revocations",
        json={"identity": "limited"},
        headers={"Authorization": f"Bearer {boot.admin_token}"},
    )
    assert revoked.status_code == 201
    answer = await _redeem(client, code)
    assert answer.status_code == 401 and "revoked" in answer.text
