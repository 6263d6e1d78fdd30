"""``roomkey webhooks ...`` against a real server posting to a real receiver process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cli_support import as_json
from remote_support import Server, ok, run, running_server

from webhook_support import Receiver, wait_for

SETTINGS = {"ROOMKEY_WEBHOOK_ALLOW_PRIVATE": "true", "ROOMKEY_WEBHOOK_POLL_S": "0.05"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server"), SETTINGS) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


def test_the_webhook_commands(server: Server, receiver: Receiver) -> None:
    url = receiver.url("/cli")
    made = as_json(
        ok(
            server,
            "webhooks",
            "create",
            url,
            "--allow-private",
            "--event",
            "room.created",
            "--json",
        )
    )
    hook_id, secret = made["id"], made["secret"]
    assert made["event_types"] == ["room.created"] and secret.startswith("whsec_")
    receiver.configure("/cli", secret=secret)
    assert hook_id in ok(server, "webhooks", "list").stdout
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    httpx.post(f"{server.url}/v1/rooms", json={"customRoomId": "cli"}, headers=headers)
    (entry,) = wait_for(lambda: receiver.log("/cli"))
    assert entry["verified"]

    log = as_json(ok(server, "webhooks", "deliveries", hook_id, "--status", "delivered", "--json"))
    (delivery,) = log["data"]
    again = as_json(ok(server, "webhooks", "redeliver", hook_id, str(delivery["id"]), "--json"))
    assert again["event_id"] == delivery["event_id"]
    wait_for(lambda: len(receiver.log("/cli")) == 2)

    rotated = as_json(ok(server, "webhooks", "rotate", hook_id, "--overlap", "2h", "--json"))
    assert rotated["secret"] != secret and rotated["previous_expires_at"]
    off = as_json(ok(server, "webhooks", "update", hook_id, "--disable", "--json"))
    assert off["enabled"] is False
    ok(server, "webhooks", "delete", hook_id)
    missing = run(server, ["webhooks", "delete", hook_id])
    assert missing.exit_code == 1 and "not_found" in missing.output


def test_a_refused_url_says_why(server: Server) -> None:
    refused = run(server, ["webhooks", "create", "http://169.254.169.254/latest"])
    assert refused.exit_code == 1
    assert "webhook_url_refused" in refused.output and "169.254.169.254" in refused.output
