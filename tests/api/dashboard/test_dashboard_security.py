"""The dashboard's protections, in process: headers, CSRF and origin, capabilities, secrets."""

from __future__ import annotations

import re

import httpx
import pytest
from dashboard_support import page_csrf, post, server_token, sign_in
from fastapi.routing import APIRoute

from roomkey.api.dashboard import ROUTERS
from roomkey.service import Bootstrap

PAGES = ["", "/keys", "/playground", "/inspector", "/rooms", "/revocations", "/audit", "/settings"]
PAGES += ["/roles", "/webhooks"]


async def _keys(client: httpx.AsyncClient, boot: Bootstrap) -> int:
    answer = await client.get("/v1/keys", headers={"Authorization": f"Bearer {boot.admin_token}"})
    return len(answer.json())


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_has_the_headers_of_an_admin_ui(
    admin: httpx.AsyncClient, path: str
) -> None:
    page = await admin.get("/dashboard" + path)
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    # no inline script, no inline style, no event-handler attribute
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert not re.search(r"\sstyle=|\son[a-z]+=", page.text)


async def test_the_sign_in_page_and_errors_have_them_too(client: httpx.AsyncClient) -> None:
    for answer in (await client.get("/dashboard/sign-in"), await client.get("/dashboard/keys")):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"


async def test_no_session_goes_to_the_sign_in_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/dashboard/keys")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?reason=no_session"
    htmx = await client.get("/dashboard/keys", headers={"HX-Request": "true"})
    assert htmx.headers["hx-redirect"] == "/dashboard/sign-in?reason=no_session"


async def test_a_state_change_needs_the_sessions_csrf_token(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    before = await _keys(admin, boot)
    missing = await admin.post("/dashboard/keys", data={"purpose": "api"})
    wrong = await admin.post("/dashboard/keys", data={"purpose": "api", "csrf": "0" * 64})
    for answer in (missing, wrong):
        assert answer.status_code == 403 and "CSRF token" in answer.text
    assert await _keys(admin, boot) == before
    header = await admin.post(
        "/dashboard/keys", data={"purpose": "api"}, headers={"X-CSRF-Token": await page_csrf(admin)}
    )
    assert header.status_code == 200 and await _keys(admin, boot) == before + 1


async def test_every_form_of_the_dashboard_needs_a_csrf_token(admin: httpx.AsyncClient) -> None:
    posts = [
        r.path
        for router in ROUTERS
        for r in router.routes
        if isinstance(r, APIRoute) and "POST" in r.methods
    ]
    assert len(posts) >= 25 and "/dashboard/webhooks/{endpoint_id}/rotate" in posts
    for path in posts:
        target = re.sub(r"\{[a-z_]+\}", "x1", path)
        answer = await admin.post(target, data={"csrf": "0" * 64})
        assert answer.status_code == 403 and "CSRF token" in answer.text, path


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_a_post_from_another_origin_is_refused_even_with_the_token(
    admin: httpx.AsyncClient, boot: Bootstrap, headers: dict[str, str]
) -> None:
    before = await _keys(admin, boot)
    answer = await post(admin, "/dashboard/keys", {"purpose": "api"}, **headers)
    assert answer.status_code == 403 and "another origin" in answer.text
    assert await _keys(admin, boot) == before


async def test_the_sign_in_form_has_its_own_csrf_token(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    forged = await client.post(
        "/dashboard/sign-in", data={"csrf": "0" * 64, "token": boot.admin_token}
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    crossed = await client.post(
        "/dashboard/sign-in",
        data={"token": boot.admin_token},
        headers={"Origin": "http://evil.test"},
    )
    assert crossed.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "missing"),
    [
        ("GET", "/dashboard/keys", "keys"),
        ("POST", "/dashboard/keys", "keys"),
        ("POST", "/dashboard/keys/APIx/disable", "keys"),
        ("GET", "/dashboard/playground", "tokens:issue"),
        ("POST", "/dashboard/playground", "tokens:issue"),
        ("GET", "/dashboard/revocations", "revocations"),
        ("GET", "/dashboard/audit", "audit:read"),
        ("POST", "/dashboard/settings", "project"),
        ("POST", "/dashboard/rooms", "rooms:write"),
        ("POST", "/dashboard/rooms/r/watch", "rooms:moderate"),
        ("POST", "/dashboard/rooms/r/lobby/ses_x/admit", "rooms:moderate"),
    ],
)
async def test_pages_and_their_forms_check_the_apis_capability(
    client: httpx.AsyncClient, boot: Bootstrap, method: str, path: str, missing: str
) -> None:
    token = await server_token(client, boot.admin_token, "rooms:read", "tokens:verify")
    assert (await sign_in(client, token)).status_code == 303
    if method == "GET":
        answer = await client.get(path)
    else:
        answer = await post(client, path, {"purpose": "api"})
    assert answer.status_code == 403, answer.text
    assert f"lacks the capability {missing}" in answer.text
    assert f"<code>{missing}</code>" in answer.text


async def test_the_nav_shows_only_what_the_session_may_use(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    token = await server_token(client, boot.admin_token, "rooms:read")
    assert (await sign_in(client, token)).status_code == 303
    page = await client.get("/dashboard")
    assert 'href="/dashboard/rooms"' in page.text
    assert 'href="/dashboard/keys"' not in page.text


async def test_a_new_secret_is_in_the_post_answer_only(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    created = await post(
        admin,
        "/dashboard/keys",
        {"purpose": "api", "description": "once"},
        **{"HX-Request": "true"},
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="created-secret" type="text" readonly value="([^"]+)"', created.text)
    assert secret, created.text
    assert 'hx-swap-oob="true"' in created.text  # the table is refreshed beside it
    for path in PAGES:
        assert secret.group(1) not in (await admin.get("/dashboard" + path)).text


async def test_a_secret_of_a_rotation_is_shown_once_too(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    answer = await post(admin, f"/dashboard/keys/{boot.api_key}/rotate", {"overlap_s": "60"})
    assert answer.status_code == 200, answer.text
    assert "This secret is shown once" in answer.text
    page = await admin.get("/dashboard/keys")
    assert "This secret is shown once" not in page.text
    old = await admin.get(
        f"/v1/keys/{boot.api_key}", headers={"Authorization": f"Bearer {boot.admin_token}"}
    )
    assert old.json()["expires_at"] is not None  # it verifies during the overlap only


async def test_a_form_with_too_many_fields_is_named_not_a_crash(admin: httpx.AsyncClient) -> None:
    csrf = await page_csrf(admin)
    body = "&".join([f"csrf={csrf}", *(f"f{i}=x" for i in range(300))])
    answer = await admin.post(
        "/dashboard/inspector",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422 and "a form has at most 200 fields" in answer.text
