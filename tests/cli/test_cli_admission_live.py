"""The admission commands against a real server: a host and a knock joined over HTTP, then
listed, admitted, muted, removed and the room locked with the CLI (regression: the lists read
keys the server does not send, and always said the room was empty)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cli_support import as_json
from remote_support import DEV_KEY, DEV_SECRET, Server, ok, running_server

from roomkey.minting import AccessToken


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


def _join(server: Server, identity: str, **permissions: object) -> dict[str, object]:
    token = (
        AccessToken(DEV_KEY, DEV_SECRET)
        .with_identity(identity)
        .with_room("weekly")
        .with_permissions(**permissions)
        .to_jwt()
    )
    answer = httpx.post(
        f"{server.url}/v1/rooms/weekly/join",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code in (200, 202), answer.text
    body: dict[str, object] = answer.json()
    return body


def test_the_admission_commands_act_on_a_live_room(server: Server) -> None:
    _join(server, "hana", admin=True)
    knock = _join(server, "gus", join="ask")
    lobby = ok(server, "rooms", "lobby", "weekly").stdout
    assert str(knock["session_id"]) in lobby and "gus" in lobby
    ok(server, "rooms", "admit", "weekly", str(knock["session_id"]))
    listed = as_json(ok(server, "rooms", "participants", "weekly", "--json"))
    assert {p["identity"] for p in listed["data"]} == {"hana", "gus"}
    assert "gus" in ok(server, "rooms", "participants", "weekly").stdout
    ok(server, "rooms", "mute", "weekly", "gus", "--sources", "mic")
    ok(server, "rooms", "lock", "weekly")
    ok(server, "rooms", "remove", "weekly", "gus")
    left = as_json(ok(server, "rooms", "participants", "weekly", "--json"))
    assert [p["identity"] for p in left["data"]] == ["hana"]
    ok(server, "rooms", "unlock", "weekly")
