"""The dashboard in a real browser (Debian's chromium through Playwright) against a real
``roomkey serve``: signing in, a secret shown once, the playground and the inspector, a live
room with a knocking guest, capability refusals, CSRF from another origin, accessibility.

One server and one browser for the module (fixtures in conftest.py); each test opens its own
browser context.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    Banner,
    Guest,
    Server,
    api,
    attacker_site,
    context_for,
    server_token,
    sign_in,
)
from e2e_support import ROOMKEY

from roomkey.keys import HmacKey
from roomkey.minting import TokenMinter

pytestmark = pytest.mark.slow

# without Playwright the fixtures' require_chromium() skips, or fails under CI=true
with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture
def admin(browser: Browser, server: Server, banner: Banner) -> Iterator[Page]:
    context = context_for(browser)
    page = context.new_page()
    sign_in(page, server, banner.admin_token)
    try:
        yield page
    finally:
        context.close()


# ---- signing in ------------------------------------------------------------------------------


def test_a_one_time_link_signs_in_once(
    browser: Browser, server: Server, banner: Banner, shots: Path
) -> None:
    printed = subprocess.run(
        [str(ROOMKEY), "dashboard", "--server", server.url, "--ttl", "30m"],
        env={"ROOMKEY_TOKEN": banner.admin_token, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    link = printed.stdout.strip()
    assert re.fullmatch(re.escape(server.url) + r"/dashboard/sign-in#link=[\w-]{40,}", link), link
    assert banner.admin_token not in printed.stdout + printed.stderr
    context = context_for(browser)
    page = context.new_page()
    page.goto(f"{server.url}/dashboard/sign-in")
    page.screenshot(path=shots / "sign-in.png", full_page=True)
    page.goto(link)
    page.wait_for_url(f"{server.url}/dashboard")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Project")
    cookie = next(c for c in context.cookies() if c["name"] == "roomkey_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert banner.admin_token not in cookie["value"]
    page.screenshot(path=shots / "overview.png", full_page=True)
    # the code was in the fragment, which never reaches the server's logs
    code = link.split("#link=")[1]
    assert code not in server.stderr()
    context.close()
    again = context_for(browser).new_page()
    again.goto(link)
    expect(again.get_by_role("alert")).to_contain_text("used already")
    again.context.close()


def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    browser: Browser, server: Server, banner: Banner
) -> None:
    context = context_for(browser)
    page = context.new_page()
    sign_in(page, server, banner.admin_token)
    copied = context.storage_state()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/sign-in\?reason=signed_out$"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    context.close()
    thief = browser.new_context(storage_state=copied)
    stolen = thief.new_page()
    stolen.goto(f"{server.url}/dashboard/keys")
    assert "/dashboard/sign-in?reason=" in stolen.url
    thief.close()


# ---- keys ------------------------------------------------------------------------------------


def test_a_new_secret_is_shown_once(admin: Page, server: Server, shots: Path) -> None:
    admin.goto(f"{server.url}/dashboard/keys")
    admin.get_by_label("Description").fill("shown once")
    admin.get_by_role("button", name="Create key").click()
    secret_field = admin.get_by_label("API secret")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert len(secret) >= 32
    expect(admin.get_by_role("alert")).to_contain_text("shown once")
    admin.screenshot(path=shots / "keys.png", full_page=True)
    kid = admin.locator("#created-kid").inner_text()
    expect(admin.locator("#keys-table")).to_contain_text(kid)  # the table was swapped in too
    with admin.expect_response(f"{server.url}/dashboard/keys") as reloaded:
        admin.reload()
    assert reloaded.value.headers["cache-control"] == "no-store"
    assert secret not in admin.content()
    expect(admin.get_by_label("API secret")).to_have_count(0)
    expect(admin.locator("#keys-table")).to_contain_text(kid)
    assert secret not in server.stderr()


# ---- the playground and the inspector ----------------------------------------------------------


def test_a_playground_token_verifies_in_the_inspector(
    admin: Page, server: Server, shots: Path
) -> None:
    admin.goto(f"{server.url}/dashboard/playground")
    admin.get_by_label("Format", exact=True).select_option("livekit")
    admin.get_by_label("Room", exact=True).fill("standup")
    admin.get_by_label("Identity", exact=True).fill("alice")
    admin.get_by_label("Role", exact=True).select_option("speaker")
    admin.get_by_label("Lifetime in seconds").fill("900")
    admin.get_by_role("button", name="Mint a temporary token").click()
    minted = admin.locator("#minted-token")
    expect(minted).to_be_visible()
    token = minted.input_value()
    assert token.count(".") == 2
    expect(admin.locator(".label-temporary")).to_contain_text("Temporary")
    expect(admin.locator("#minted")).to_contain_text("may publish: microphone")
    expect(admin.locator("#snippet-curl")).to_contain_text("$ROOMKEY_TOKEN")
    expect(admin.locator("#snippet-python")).to_contain_text('"room": "standup"'.replace('"', "'"))
    admin.screenshot(path=shots / "playground.png", full_page=True)
    admin.get_by_role("button", name="Check it in the inspector").click()
    admin.wait_for_url(f"{server.url}/dashboard/inspector")
    verdict = admin.locator("#verdict")
    expect(verdict).to_contain_text("Valid")
    statuses = admin.locator("table.checks .status").all_inner_texts()
    assert statuses and all(s.lower() == "passed" for s in statuses), statuses
    expect(admin.locator("#inspection")).to_contain_text("expires")
    admin.screenshot(path=shots / "inspector.png", full_page=True)
    assert token not in server.stderr()  # nothing pasted is logged


def _minter(banner: Banner, clock: float) -> TokenMinter:
    key = HmacKey(banner.api_key, banner.api_secret)
    return TokenMinter(key, "native", api_key=banner.api_key, now=lambda: clock)


def _inspect(page: Page, server: Server, token: str) -> None:
    page.goto(f"{server.url}/dashboard/inspector")
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Inspect").click()
    expect(page.locator("#verdict")).to_be_visible()


def test_the_inspector_says_why_a_token_is_refused(
    admin: Page, server: Server, banner: Banner, shots: Path
) -> None:
    two_hours_ago = time.time() - 2 * 3600 - 30
    expired = _minter(banner, two_hours_ago).mint(identity="bob", room="r", ttl=600).token
    _inspect(admin, server, expired)
    expect(admin.locator("#verdict")).to_contain_text("Refused: expired 1 hour ago")
    row = admin.locator("table.checks tr", has_text="expiry and registered claims")
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("expired 1 hour ago")
    expect(admin.locator("table.checks tr", has_text="revocation")).to_contain_text("skipped")
    admin.screenshot(path=shots / "inspector-expired.png", full_page=True)

    good = _minter(banner, time.time()).mint(identity="bob", room="r", ttl=600).token
    head, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _inspect(admin, server, f"{head}.{forged}.{signature}")
    expect(admin.locator("#verdict")).to_contain_text("the token was altered after signing")
    row = admin.locator("table.checks tr", has_text="key and signature")
    expect(row).to_contain_text("failed")
    expect(admin.locator("#inspection")).to_contain_text('"sub": "mallory"')  # still decoded


# ---- a live room -----------------------------------------------------------------------------


def test_a_room_page_shows_a_knock_live_and_admits_it(
    admin: Page, server: Server, banner: Banner, shots: Path
) -> None:
    admin.goto(f"{server.url}/dashboard/rooms")
    admin.get_by_label("Custom id (optional)").fill("town-hall")
    admin.get_by_role("button", name="Create room").click()
    admin.wait_for_url(f"{server.url}/dashboard/rooms/town-hall")
    expect(admin.locator("#live-status")).to_contain_text("Live: updates", timeout=15_000)
    expect(admin.locator("#lobby")).to_contain_text("Nobody is waiting")
    body = {"identity": "guest-1", "room": "town-hall", "permissions": {"join": "ask"}}
    with api(server, banner) as client:
        token = client.post("/v1/tokens", json=body).json()["token"]
    guest = Guest(server.url, "town-hall", token)
    assert guest.joined.wait(15) and guest.error is None, guest.error
    assert guest.status == "waiting"
    expect(admin.locator("#lobby")).to_contain_text("guest-1", timeout=15_000)
    expect(admin.locator("#event-log")).to_contain_text("lobby knock")
    admin.screenshot(path=shots / "room.png", full_page=True)
    admin.get_by_role("button", name="Admit guest-1").click()
    guest.thread.join(30)
    assert guest.error is None, guest.error
    assert guest.admitted is not None
    expect(admin.locator("#participants")).to_contain_text("guest-1", timeout=15_000)
    expect(admin.locator("#lobby")).to_contain_text("Nobody is waiting")
    admin.goto(f"{server.url}/dashboard/rooms")
    admin.screenshot(path=shots / "rooms.png", full_page=True)


# ---- capabilities and CSRF ---------------------------------------------------------------------


def test_a_token_without_keys_gets_a_403_page(
    browser: Browser, server: Server, banner: Banner, shots: Path
) -> None:
    context = context_for(browser)
    page = context.new_page()
    sign_in(page, server, server_token(server, banner, "rooms:read", "tokens:verify"))
    nav = page.get_by_role("navigation", name="Dashboard")
    expect(nav.get_by_role("link", name="Keys")).to_have_count(0)
    expect(nav.get_by_role("link", name="Inspector")).to_have_count(1)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    with page.expect_response(f"{server.url}/dashboard/keys") as answer:
        page.goto(f"{server.url}/dashboard/keys")
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("keys")
    page.screenshot(path=shots / "forbidden.png", full_page=True)
    # the forms' endpoints check too, whatever a page shows
    posted = page.request.post(
        f"{server.url}/dashboard/keys",
        form={"purpose": "api", "csrf": csrf or ""},
        headers={"Origin": server.url},
    )
    assert posted.status == 403
    context.close()


def test_a_form_posted_from_another_origin_changes_nothing(
    admin: Page, server: Server, banner: Banner
) -> None:
    with api(server, banner) as client:
        before = len(client.get("/v1/keys").json())
    with attacker_site(f"{server.url}/dashboard/keys") as evil:
        with admin.expect_response(f"{server.url}/dashboard/keys") as answer:
            admin.goto(evil)
        assert answer.value.status == 403
        expect(admin.get_by_role("alert")).to_contain_text("another origin")
    with api(server, banner) as client:
        assert len(client.get("/v1/keys").json()) == before


# ---- every page: headers, accessibility, widths ------------------------------------------------

PAGES = ["", "/keys", "/playground", "/inspector", "/rooms", "/revocations", "/audit", "/settings"]
PAGES += ["/roles", "/webhooks"]  # their browser tests are test_dashboard_browser_manage.py


def test_every_page_is_accessible_at_phone_and_desktop_widths(
    browser: Browser, server: Server, banner: Banner, shots: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    with api(server, banner) as client:  # idempotent: the live-room test may have made it
        assert client.post("/v1/rooms", json={"customRoomId": "town-hall"}).is_success
    context = context_for(browser)
    page = context.new_page()
    sign_in(page, server, banner.admin_token)
    failures: dict[str, Any] = {}
    for path in [*PAGES, "/rooms/town-hall"]:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE), ("zoom200", None)):
            if viewport is None:  # 200% zoom of a 1280 px window: 640 CSS px, twice as dense
                zoomed = browser.new_context(
                    viewport={"width": 640, "height": 450},
                    device_scale_factor=2,
                    storage_state=context.storage_state(),
                )
                target = zoomed.new_page()
            else:
                page.set_viewport_size(viewport)
                target = page
            answer = target.goto(f"{server.url}/dashboard{path}")
            assert answer is not None and answer.status == 200, path
            headers = answer.headers
            assert "script-src 'self'" in headers["content-security-policy"]
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["cache-control"] == "no-store"
            overflow = target.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 1:
                failures[f"{path} {name}"] = f"{overflow}px wider than the window"
            report = axe.run(target).response
            assert report["passes"], "axe ran no rule"
            serious = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                for v in report["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            for v in report["violations"]:
                print("axe", path, name, v["id"], v["impact"], len(v["nodes"]))
            if serious:
                failures[f"{path} {name} axe"] = serious
            if name == "phone" and path in ("", "/playground", "/inspector"):
                slug = path.strip("/") or "overview"
                target.screenshot(path=shots / f"phone-{slug}.png", full_page=True)
            if name == "desktop" and path in ("/revocations", "/audit", "/settings"):
                target.screenshot(path=shots / f"{path.strip('/')}.png", full_page=True)
            if viewport is None:
                target.context.close()
    context.close()
    assert failures == {}, failures


def test_the_sign_in_page_needs_no_inline_script(browser: Browser, server: Server) -> None:
    context = context_for(browser)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    page.goto(f"{server.url}/dashboard/sign-in")
    page.wait_for_load_state("networkidle")
    assert violations == []
    sources = page.evaluate("[...document.scripts].map(s => s.src)")  # same-origin files only
    assert sources and all(s.startswith(f"{server.url}/dashboard/static/") for s in sources)
    context.close()
