"""The webhooks pages in process: endpoints (the secret shown once), changes, rotation, the
delivery log with its pages and redelivery, against a real receiver process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from api_support import make_settings
from dashboard_support import page_csrf, post, server_token, sign_in

from roomkey.service import Bootstrap, RoomkeyService
from webhook_support import Receiver, await_for

SECRET = re.compile(r'id="created-secret" type="text" readonly value="(whsec_[^"]+)"')


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RoomkeyService]:
    settings = make_settings(tmp_path, webhook_allow_private=True, webhook_poll_s=0.02)
    node = await RoomkeyService.open(settings)
    try:
        yield node
    finally:
        await node.close()


def _auth(boot: Bootstrap) -> dict[str, str]:
    return {"Authorization": f"Bearer {boot.admin_token}"}


async def _create(admin: httpx.AsyncClient, url: str, **fields: str | list[str]) -> str:
    """Add an endpoint through the page (as htmx posts it); the secret shown."""
    form = {"url": url, "format": "standard", "enabled": "on", "allow_private": "on", **fields}
    answer = await post(admin, "/dashboard/webhooks", form, **{"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    found = SECRET.search(answer.text)
    assert found, answer.text
    assert "This secret is shown once" in answer.text
    assert 'hx-swap-oob="true"' in answer.text  # the endpoints table comes along
    return found.group(1)


async def test_an_endpoint_is_created_with_its_secret_shown_once(
    admin: httpx.AsyncClient, boot: Bootstrap, receiver: Receiver
) -> None:
    secret = await _create(admin, receiver.url("/dash-once"), description="once")
    [endpoint] = (await admin.get("/v1/webhooks", headers=_auth(boot))).json()
    assert endpoint["description"] == "once" and "token.issued" not in endpoint["event_types"]
    for path in ("/dashboard/webhooks", f"/dashboard/webhooks/{endpoint['id']}"):
        page = await admin.get(path)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert secret not in page.text and endpoint["id"] in page.text


async def test_an_endpoint_is_changed_rotated_and_deleted(
    admin: httpx.AsyncClient, boot: Bootstrap, receiver: Receiver
) -> None:
    await _create(admin, receiver.url("/dash-edit"))
    [endpoint] = (await admin.get("/v1/webhooks", headers=_auth(boot))).json()
    page = f"/dashboard/webhooks/{endpoint['id']}"
    changed = await post(
        admin,
        page,
        {
            "url": receiver.url("/dash-edit2"),
            "event_types": ["room.created", "token.issued"],
            "allow_private": "on",  # unticked boxes are false: "enabled" goes off
        },
    )
    assert changed.status_code == 303, re.findall(r"class=.problem.*", changed.text)
    assert changed.headers["location"] == f"{page}?done=saved"
    now = (await admin.get(f"/v1/webhooks/{endpoint['id']}", headers=_auth(boot))).json()
    assert now["event_types"] == ["room.created", "token.issued"]
    assert now["enabled"] is False and now["url"].endswith("/dash-edit2")
    rotated = await post(admin, f"{page}/rotate", {"overlap_s": "600"}, **{"HX-Request": "true"})
    assert rotated.status_code == 200 and "New signing secret" in rotated.text
    assert SECRET.search(rotated.text) and "Old secret signs too until" in rotated.text
    bad = await post(admin, f"{page}/rotate", {"overlap_s": "-1"})
    assert bad.status_code == 400 and "overlap_s" in bad.text and "whsec_" not in bad.text
    gone = await post(admin, f"{page}/delete")
    assert gone.status_code == 303 and gone.headers["location"] == "/dashboard/webhooks"
    assert (await admin.get("/v1/webhooks", headers=_auth(boot))).json() == []
    assert (await admin.get(page)).status_code == 404


async def test_a_bad_endpoint_is_refused_with_the_services_reason(
    admin: httpx.AsyncClient,
) -> None:
    form = {"url": "ftp://example.com/x", "enabled": "on"}
    answer = await post(admin, "/dashboard/webhooks", form, **{"HX-Request": "true"})
    assert answer.status_code == 400 and 'class="problem"' in answer.text
    livekit = {"url": "http://127.0.0.1:9/x", "format": "livekit", "allow_private": "on"}
    answer = await post(admin, "/dashboard/webhooks", {**livekit, "event_types": "token.issued"})
    assert answer.status_code == 400 and "LiveKit" in answer.text


async def test_the_delivery_log_pages_and_redelivers(
    admin: httpx.AsyncClient, boot: Bootstrap, receiver: Receiver
) -> None:
    secret = await _create(admin, receiver.url("/dash-log"), event_types="room.created")
    receiver.configure("/dash-log", secret=secret, status=204)
    [endpoint] = (await admin.get("/v1/webhooks", headers=_auth(boot))).json()
    for i in range(30):
        made = await admin.post("/v1/rooms", json={"customRoomId": f"log-{i}"}, headers=_auth(boot))
        assert made.status_code in (200, 201), made.text
    page = f"/dashboard/webhooks/{endpoint['id']}"

    await await_for(lambda: len(receiver.log("/dash-log")) == 30)
    assert all(entry["verified"] for entry in receiver.log("/dash-log"))  # the secret shown
    first = await admin.get(f"{page}?status=delivered")
    assert first.status_code == 200
    assert first.text.count("Redeliver delivery") == 25 and 'rel="next"' in first.text
    older = re.search(r'href="([^"]+cursor=[^"]+)" rel="next"', first.text)
    assert older, first.text
    second = await admin.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count("Redeliver delivery") == 5 and 'rel="next"' not in second.text
    newest = re.search(r"Redeliver delivery (\d+)", first.text)
    assert newest
    again = await post(admin, f"{page}/deliveries/{newest.group(1)}/redeliver")
    assert again.status_code == 303 and "done=redelivered-" in again.headers["location"]
    shown = await admin.get(again.headers["location"])
    assert "Queued again as delivery" in shown.text
    await await_for(lambda: len(receiver.log("/dash-log")) == 31)
    refused = await post(admin, f"{page}/deliveries/99999999/redeliver")
    assert refused.status_code == 404
    assert (await post(admin, f"{page}/deliveries/x1/redeliver")).status_code == 422


async def test_webhooks_need_the_capability_and_a_csrf_token(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    assert "/dashboard/webhooks" in (await admin.get("/dashboard")).text
    no_csrf = await admin.post("/dashboard/webhooks", data={"url": "http://127.0.0.1:9/x"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    rooms_only = await server_token(admin, boot.admin_token, "rooms:read")
    other = httpx.AsyncClient(transport=admin._transport, base_url=str(admin.base_url))
    async with other:
        assert (await sign_in(other, rooms_only)).status_code == 303
        assert "/dashboard/webhooks" not in (await other.get("/dashboard")).text
        page = await other.get("/dashboard/webhooks")
        assert page.status_code == 403 and "webhooks" in page.text
        csrf = await page_csrf(other)
        posted = await other.post(
            "/dashboard/webhooks", data={"csrf": csrf, "url": "http://127.0.0.1:9/x"}
        )
        assert posted.status_code == 403
    assert (await admin.get("/v1/webhooks", headers=_auth(boot))).json() == []
