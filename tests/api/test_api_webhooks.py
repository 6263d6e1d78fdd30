"""The webhook routes: the `webhooks` capability, the secret shown once, updates, rotation, the
delivery log and redelivery, with deliveries to a real receiver process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from api_support import assert_error, make_settings
from fastapi import FastAPI

from roomkey.api.app import create_app
from roomkey.capabilities import Capability
from roomkey.service import RoomkeyService
from webhook_support import Receiver, await_for


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


@pytest.fixture
def app(service: RoomkeyService) -> FastAPI:
    return create_app(service=service)


async def test_only_the_webhooks_capability_manages_endpoints(
    client: httpx.AsyncClient, service: RoomkeyService
) -> None:
    boot = service.bootstrap
    assert boot is not None
    rooms_only = service.admin_token(boot.project_id, capabilities=[Capability.ROOMS_WRITE])
    headers = {"Authorization": f"Bearer {rooms_only}"}
    refused = assert_error(await client.get("/v1/webhooks", headers=headers), 403, "forbidden")
    assert refused["details"]["missing"] == "webhooks"
    hooks = service.admin_token(boot.project_id, capabilities=[Capability.WEBHOOKS])
    listed = await client.get("/v1/webhooks", headers={"Authorization": f"Bearer {hooks}"})
    assert listed.status_code == 200 and listed.json() == []


async def test_endpoint_lifecycle_over_http(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver
) -> None:
    body = {"url": receiver.url("/api"), "allow_private": True, "description": "ops"}
    made = await client.post("/v1/webhooks", json=body, headers=auth)
    assert made.status_code == 201, made.text
    created = made.json()
    secret, hook_id = created.pop("secret"), created["id"]
    assert secret.startswith("whsec_") and "lobby.knock" in created["event_types"]
    receiver.configure("/api", secret=secret)
    got = (await client.get(f"/v1/webhooks/{hook_id}", headers=auth)).json()
    assert got == created and "secret" not in got
    assert (await client.get("/v1/webhooks", headers=auth)).json() == [created]

    await client.post("/v1/rooms", json={"customRoomId": "over-http"}, headers=auth)
    (entry,) = await await_for(lambda: receiver.log("/api"))
    assert entry["verified"] and entry["body"]["data"]["custom_room_id"] == "over-http"

    log = (await client.get(f"/v1/webhooks/{hook_id}/deliveries", headers=auth)).json()
    (delivery,) = log["data"]
    assert (delivery["status"], delivery["event_type"]) == ("delivered", "room.created")
    none = await client.get(f"/v1/webhooks/{hook_id}/deliveries?status=dead", headers=auth)
    assert none.json() == {"data": [], "next_cursor": None}
    again = await client.post(
        f"/v1/webhooks/{hook_id}/deliveries/{delivery['id']}/redeliver", headers=auth
    )
    assert again.status_code == 201 and again.json()["event_id"] == delivery["event_id"]
    await await_for(lambda: len(receiver.log("/api")) == 2)
    assert len({e["webhook_id"] for e in receiver.log("/api")}) == 1

    metrics = (await client.get("/metrics")).text
    assert "roomkey_webhook_delivered_total 2.0" in metrics
    assert "roomkey_webhook_in_flight 0.0" in metrics

    rotated = await client.post(f"/v1/webhooks/{hook_id}/rotate", json={}, headers=auth)
    assert rotated.status_code == 200 and rotated.json()["secret"] != secret
    assert rotated.json()["previous_expires_at"] is not None
    off = await client.patch(f"/v1/webhooks/{hook_id}", json={"enabled": False}, headers=auth)
    assert off.status_code == 200 and off.json()["enabled"] is False
    gone = await client.delete(f"/v1/webhooks/{hook_id}", headers=auth)
    assert gone.status_code == 204
    assert_error(await client.get(f"/v1/webhooks/{hook_id}", headers=auth), 404, "not_found")


async def test_refusals_name_what_was_wrong(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    private = await client.post("/v1/webhooks", json={"url": "http://10.0.0.7/h"}, headers=auth)
    refused = assert_error(private, 400, "webhook_url_refused")
    assert refused["details"]["address"] == "10.0.0.7"
    unknown = {"url": "http://127.0.0.1:9/", "allow_private": True, "event_types": ["nope"]}
    assert_error(
        await client.post("/v1/webhooks", json=unknown, headers=auth), 400, "invalid_claim_value"
    )
    typo = await client.post(
        "/v1/webhooks", json={"url": "http://x.test", "secret": "s"}, headers=auth
    )
    assert_error(typo, 422, "validation_error")
    missing = await client.post("/v1/webhooks/whk_nope/deliveries/1/redeliver", headers=auth)
    assert_error(missing, 404, "not_found")
