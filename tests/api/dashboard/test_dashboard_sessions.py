"""Signing in and out of the dashboard, in process: links, cookies, CSRF, expiry."""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest
from dashboard_support import Timed, csrf_of, mint, post, server_token, sign_in

from roomkey.minting import AccessToken
from roomkey.service import Bootstrap, RoomkeyService
from roomkey.service.dashboard import LINK_TTL_S
from roomkey.service.dashboard.links import SPENT_REASON


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


async def _own_key_token(timed: Timed, identity: str) -> tuple[str, str]:
    """A server token (``rooms:read``) signed with a key of its own: (token, kid)."""
    admin = {"Authorization": f"Bearer {timed.boot.admin_token}"}
    created = await timed.client.post("/v1/keys", json={"purpose": "api"}, headers=admin)
    assert created.status_code == 201, created.text
    kid, secret = created.json()["kid"], created.json()["api_secret"]
    builder = AccessToken(kid, secret, now=timed.clock).with_identity(identity)
    builder = builder.with_scope("api").with_permissions(capabilities=["rooms:read"])
    return builder.with_ttl(3600).to_jwt(), kid


def _jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=="))["jti"])


@pytest.mark.parametrize("target", ["jti", "identity", "kid", "issued_before"])
async def test_revoking_the_sign_in_token_ends_its_sessions(timed: Timed, target: str) -> None:
    token, kid = await _own_key_token(timed, "carol")
    browser = httpx.AsyncClient(transport=timed.client._transport, base_url="http://roomkey.test")
    async with browser:
        assert (await sign_in(browser, token)).status_code == 303
        assert (await browser.get("/dashboard/rooms")).status_code == 200
        timed.clock.advance(5)  # a rule issued before now covers what was issued before it
        rule: dict[str, object] = {
            "jti": {"jti": _jti_of(token)},
            "identity": {"identity": "carol"},
            "kid": {"kid": kid},
            "issued_before": {"issued_before": int(timed.clock())},
        }[target]
        revoked = await timed.client.post(
            "/v1/revocations",
            json=rule,
            headers={"Authorization": f"Bearer {timed.boot.admin_token}"},
        )
        assert revoked.status_code == 201, revoked.text
        answer = await browser.get("/dashboard/rooms")
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/dashboard/sign-in?reason=revoked"


async def test_a_session_from_a_link_ends_when_the_linking_token_is_revoked(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    limited = await server_token(client, boot.admin_token, "rooms:read")
    assert (await _redeem(client, await _link(client, limited))).status_code == 303
    assert (await client.get("/dashboard/rooms")).status_code == 200
    revoked = await client.post(
        "/v1/revocations",
        json={"jti": _jti_of(limited)},
        headers={"Authorization": f"Bearer {boot.admin_token}"},
    )
    assert revoked.status_code == 201
    answer = await client.get("/dashboard/rooms")
    assert answer.status_code == 303 and "reason=revoked" in answer.headers["location"]


async def test_a_link_is_spent_in_the_database_and_an_altered_code_opens_nothing(
    client: httpx.AsyncClient, boot: Bootstrap, service: RoomkeyService
) -> None:
    code = await _link(client, boot.admin_token)
    altered = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    assert (await _redeem(client, altered)).status_code == 401
    assert (await _redeem(client, code)).status_code == 303
    rules = await service.revocations.list_revocations(boot.project_id)
    spent = [r for r in rules if r.reason == SPENT_REASON]
    assert len(spent) == 1 and spent[0].kind == "jti"
    # what another node would see: the row, not this node's memory, refuses a second use
    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://roomkey.test")
    async with fresh:
        again = await _redeem(fresh, code)
        assert again.status_code == 401 and "used already" in again.text
