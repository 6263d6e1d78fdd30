"""The webhooks, roles and bans pages in a real browser (Debian's chromium through Playwright)
against a real ``roomkey serve`` delivering to a real receiver process: a secret shown once,
the delivery log and redelivery, rotation, a custom role, a ban lifted; accessibility and
widths of each new page.

One server and one browser for the module (fixtures in conftest.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    Banner,
    Server,
    api,
    context_for,
    page_problems,
    sign_in,
)

from webhook_support import Receiver, wait_for

pytestmark = pytest.mark.slow
SERVER_ENV = {"ROOMKEY_WEBHOOK_ALLOW_PRIVATE": "true", "ROOMKEY_WEBHOOK_POLL_S": "0.05"}

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def admin(browser: Browser, server: Server, banner: Banner) -> Iterator[Page]:
    context = context_for(browser)
    page = context.new_page()
    sign_in(page, server, banner.admin_token)
    try:
        yield page
    finally:
        context.close()


def _rooms(server: Server, banner: Banner, *names: str) -> None:
    with api(server, banner) as client:
        for name in names:
            assert client.post("/v1/rooms", json={"customRoomId": name}).is_success


# ---- webhooks --------------------------------------------------------------------------------


def test_an_endpoint_shows_its_secret_once_and_its_deliveries(
    admin: Page, server: Server, banner: Banner, receiver: Receiver, shots: Path
) -> None:
    admin.goto(f"{server.url}/dashboard/webhooks")
    admin.get_by_label("URL").fill(receiver.url("/browser"))
    admin.get_by_label("Description").fill("events to the test receiver")
    admin.get_by_label("room.created", exact=True).check()
    admin.get_by_label("Allow a private").check()
    admin.get_by_role("button", name="Add endpoint").click()
    secret_field = admin.locator("#created-secret")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert secret.startswith("whsec_")
    expect(admin.get_by_role("alert")).to_contain_text("shown once")
    expect(admin.get_by_role("button", name="Copy secret")).to_be_visible()
    endpoint = admin.locator("#created-webhook").inner_text()
    expect(admin.locator("#webhooks-table")).to_contain_text(endpoint)
    admin.screenshot(path=shots / "webhooks.png", full_page=True)
    admin.reload()
    assert secret not in admin.content()
    assert secret not in server.stderr()

    receiver.configure("/browser", secret=secret)
    _rooms(server, banner, "wh-1", "wh-2", "wh-3")
    wait_for(lambda: len(receiver.log("/browser")) == 3)
    assert all(entry["verified"] for entry in receiver.log("/browser"))
    admin.get_by_role("link", name=f"Endpoint {endpoint}: settings and deliveries").click()
    log = admin.locator("table.deliveries")
    expect(log.locator("tbody tr")).to_have_count(3)
    expect(log).to_contain_text("delivered")
    expect(log).to_contain_text("HTTP 204")
    newest = log.get_by_role("button", name=re.compile(r"^Redeliver delivery \d+")).first
    newest.click()
    expect(admin.get_by_role("status")).to_contain_text("Queued again as delivery")
    wait_for(lambda: len(receiver.log("/browser")) == 4)
    expect(admin.locator("table.deliveries tbody tr")).to_have_count(4)
    admin.screenshot(path=shots / "webhook.png", full_page=True)


def test_an_endpoint_is_rotated_disabled_and_deleted(
    admin: Page, server: Server, receiver: Receiver
) -> None:
    admin.goto(f"{server.url}/dashboard/webhooks")
    admin.get_by_label("URL").fill(receiver.url("/browser-rotate"))
    admin.get_by_label("Allow a private").check()
    admin.get_by_role("button", name="Add endpoint").click()
    first = admin.locator("#created-secret").input_value()
    admin.locator("#created-panel a").click()
    admin.get_by_label("Overlap (seconds)").fill("600")
    admin.get_by_role("button", name="Rotate secret").click()
    expect(admin.locator("#created-title")).to_contain_text("New signing secret")
    second = admin.locator("#created-secret").input_value()
    assert second.startswith("whsec_") and second != first
    expect(admin.locator("#created-panel")).to_contain_text("Old secret signs too until")
    admin.get_by_label("Enabled").uncheck()
    admin.get_by_role("button", name="Save endpoint").click()
    expect(admin.get_by_role("status")).to_contain_text("Saved")
    expect(admin.locator(".facts")).to_contain_text("disabled")
    assert second not in admin.content()  # a page served after the rotation
    admin.get_by_text("Delete this endpoint").click()
    admin.get_by_role("button", name="Delete endpoint for good").click()
    admin.wait_for_url(f"{server.url}/dashboard/webhooks")
    expect(admin.locator("#webhooks-table")).not_to_contain_text("browser-rotate")


# ---- roles and bans ----------------------------------------------------------------------------


def test_a_custom_role_is_made_and_deleted(admin: Page, server: Server, shots: Path) -> None:
    admin.goto(f"{server.url}/dashboard/roles")
    admin.get_by_role("textbox", name="Name").fill("panelist")
    admin.get_by_label("send data messages").uncheck()
    admin.get_by_label("camera").uncheck()
    admin.get_by_role("button", name="Save role").click()
    roles = admin.locator("table.roles")
    expect(roles).to_contain_text("panelist")
    expect(roles).to_contain_text("microphone")
    admin.screenshot(path=shots / "roles.png", full_page=True)
    admin.get_by_role("button", name="Delete role panelist").click()
    expect(roles).to_contain_text("No custom roles yet")


def test_a_room_page_bans_and_lifts(
    admin: Page, server: Server, banner: Banner, shots: Path
) -> None:
    _rooms(server, banner, "stage")
    admin.goto(f"{server.url}/dashboard/rooms/stage")
    bans = admin.locator("#bans")
    bans.get_by_label("Identity").fill("troll")
    bans.get_by_label("Reason").fill("spam in the chat")
    bans.get_by_role("button", name="Ban", exact=True).click()
    expect(bans).to_contain_text("spam in the chat")
    bans.screenshot(path=shots / "bans.png")
    with api(server, banner) as client:
        refused = client.post("/v1/tokens", json={"identity": "troll", "room": "stage"})
    assert refused.status_code == 403
    bans.get_by_label("and its revocations").check()
    bans.get_by_role("button", name="Lift the ban of troll").click()
    expect(bans).to_contain_text("Nobody is banned")


# ---- accessibility and widths --------------------------------------------------------------------


def _data(server: Server, banner: Banner, receiver: Receiver) -> str:
    """An endpoint with a delivery, a custom role and a ban: the pages at their fullest."""
    with api(server, banner) as client:
        hook = {"url": receiver.url("/axe"), "allow_private": True, "event_types": ["*"]}
        created = client.post("/v1/webhooks", json=hook)
        assert created.status_code == 201, created.text
        role = {"permissions": {"can_consume": True, "can_produce": False}}
        assert client.put("/v1/roles/watcher", json=role).is_success
        assert client.post("/v1/rooms", json={"customRoomId": "axe-room"}).is_success
        assert client.post("/v1/rooms/axe-room/bans", json={"identity": "x"}).is_success
    wait_for(lambda: receiver.log("/axe"))
    return str(created.json()["id"])


def test_the_new_pages_are_accessible_at_phone_and_desktop_widths(
    browser: Browser, server: Server, banner: Banner, receiver: Receiver
) -> None:
    endpoint = _data(server, banner, receiver)
    paths = ["/webhooks", f"/webhooks/{endpoint}", "/roles", "/rooms/axe-room"]
    context = context_for(browser)
    page = context.new_page()
    sign_in(page, server, banner.admin_token)
    failures: dict[str, Any] = {}
    for path in paths:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE), ("zoom200", None)):
            if viewport is None:  # 200% zoom of a 1280 px window
                target = browser.new_context(
                    viewport={"width": 640, "height": 450},
                    device_scale_factor=2,
                    storage_state=context.storage_state(),
                ).new_page()
            else:
                page.set_viewport_size(viewport)
                target = page
            answer = target.goto(f"{server.url}/dashboard{path}")
            assert answer is not None and answer.status == 200, path
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert answer.headers["cache-control"] == "no-store"
            failures.update(page_problems(target, f"{path} {name}"))
            if viewport is None:
                target.context.close()
    context.close()
    assert failures == {}, failures
