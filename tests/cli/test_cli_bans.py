"""``roomkey rooms ban|bans|unban`` against a real server: the ban refuses issuance, lifts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cli_support import as_json, one_error_line
from remote_support import Server, ok, run, running_server

BAN_FIELDS = {"id", "room", "identity", "created_at", "reason", "created_by", "lifted_at"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


def _issue(server: Server, identity: str, room: str) -> tuple[int, dict[str, object]]:
    answer = server.http("POST", "/v1/tokens", json={"identity": identity, "room": room})
    return answer.status_code, answer.json()


def _valid(server: Server, token: str) -> bool:
    answer = server.http("POST", "/v1/tokens/verify", json={"token": token})
    return bool(answer.json()["valid"])


def test_ban_list_and_unban(server: Server) -> None:
    room = as_json(ok(server, "rooms", "create", "--custom-id", "weekly", "--json"))
    banned = as_json(ok(server, "rooms", "ban", "weekly", "mallory", "--reason", "spam", "--json"))
    assert set(banned) == BAN_FIELDS
    assert (banned["room"], banned["identity"], banned["reason"]) == (
        room["roomId"],
        "mallory",
        "spam",
    )
    status, body = _issue(server, "mallory", "weekly")
    assert (status, body["error"]) == (403, "banned")

    listed = ok(server, "rooms", "bans", "weekly")
    assert "IDENTITY" in listed.stdout and "mallory" in listed.stdout and "spam" in listed.stdout
    assert [
        b["id"] for b in json.loads(ok(server, "rooms", "bans", "weekly", "--json").stdout)
    ] == [banned["id"]]

    lifted = as_json(ok(server, "rooms", "unban", "weekly", "mallory", "--json"))
    assert lifted["id"] == banned["id"] and lifted["lifted_at"] is not None
    assert _issue(server, "mallory", "weekly")[0] == 201
    assert "nobody is banned" in ok(server, "rooms", "bans", "weekly").stdout
    again = run(server, ["rooms", "unban", "weekly", "mallory"])
    assert again.exit_code == 1 and one_error_line(again).endswith("[not_found]")


def test_unban_with_lift_revocations_makes_old_tokens_valid_again(server: Server) -> None:
    ok(server, "rooms", "create", "--custom-id", "daily")
    status, minted = _issue(server, "trent", "daily")
    assert status == 201
    held = str(minted["token"])
    ok(server, "rooms", "ban", "daily", "trent")
    assert not _valid(server, held)
    ok(server, "rooms", "unban", "daily", "trent", "--lift-revocations")
    assert _valid(server, held)


def test_banning_in_an_unknown_room_exits_1(server: Server) -> None:
    result = run(server, ["rooms", "ban", "no-such-room", "mallory"])
    assert result.exit_code == 1 and one_error_line(result).endswith("[not_found]")
