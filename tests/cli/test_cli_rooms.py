"""``roomkey rooms create|list|get|validate|deactivate`` against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cli_support import as_json, one_error_line
from remote_support import Server, ok, run, running_server

ROOM_FIELDS = {
    "roomId",
    "customRoomId",
    "metadata",
    "max_participants",
    "locked",
    "active",
    "created_at",
    "deactivated_at",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


def test_create_with_every_option(server: Server) -> None:
    result = ok(
        server,
        "rooms",
        "create",
        "--custom-id",
        "town-hall",
        "--metadata",
        '{"topic":"q4"}',
        "--max-participants",
        "50",
        "--locked",
        "--json",
    )
    room = json.loads(result.stdout)
    assert set(room) == ROOM_FIELDS
    assert room["customRoomId"] == "town-hall" and room["metadata"] == {"topic": "q4"}
    assert room["max_participants"] == 50 and room["locked"] is True and room["active"] is True
    assert result.stderr == ""


def test_create_again_returns_the_existing_room(server: Server) -> None:
    first = as_json(ok(server, "rooms", "create", "--custom-id", "daily", "--json"))
    again = ok(server, "rooms", "create", "--custom-id", "daily", "--json")
    assert json.loads(again.stdout)["roomId"] == first["roomId"]
    assert "already existed" in again.stderr


def test_create_without_custom_id_text(server: Server) -> None:
    out = ok(server, "rooms", "create").stdout
    assert out.startswith("created room")
    room_id = next(
        line.split()[1] for line in out.splitlines() if line.strip().startswith("roomId")
    )
    assert server.http("GET", f"/v1/rooms/{room_id}").json()["roomId"] == room_id


@pytest.mark.parametrize("metadata", ["not json", "[1, 2]", '"text"'])
def test_metadata_must_be_a_json_object(server: Server, metadata: str) -> None:
    result = run(server, ["rooms", "create", "--metadata", metadata])
    assert result.exit_code == 2 and one_error_line(result).endswith("[invalid_json]")


def test_max_participants_below_one_is_a_usage_error(server: Server) -> None:
    result = run(server, ["rooms", "create", "--max-participants", "0"])
    assert result.exit_code == 2 and one_error_line(result).endswith("[usage_error]")


def test_server_refusal_exit_1(server: Server) -> None:
    result = run(server, ["rooms", "create", "--max-participants", "100001"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("error: max_participants: ") and line.endswith("[validation_error]")


def test_list_pages_and_all(server: Server) -> None:
    for name in ("page-a", "page-b", "page-c"):
        ok(server, "rooms", "create", "--custom-id", name)
    first = as_json(ok(server, "rooms", "list", "--limit", "2", "--json"))
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = as_json(
        ok(server, "rooms", "list", "--limit", "2", "--cursor", first["next_cursor"], "--json")
    )
    seen = [r["roomId"] for r in first["data"] + second["data"]]
    assert len(seen) == len(set(seen)) == 2 + len(second["data"])
    everything = as_json(ok(server, "rooms", "list", "--limit", "1", "--all", "--json"))
    assert everything["next_cursor"] is None
    ids = [r["roomId"] for r in everything["data"]]
    all_ids = [r["roomId"] for r in server.http("GET", "/v1/rooms?limit=200").json()["data"]]
    assert ids == all_ids and set(seen) <= set(ids)


def test_list_text_and_the_next_cursor_hint(server: Server) -> None:
    ok(server, "rooms", "create", "--custom-id", "listed-room")
    ok(server, "rooms", "create", "--custom-id", "listed-room-2")
    result = ok(server, "rooms", "list", "--limit", "1")
    header = result.stdout.splitlines()[0]
    assert header.split()[:4] == ["ROOM", "ID", "CUSTOM", "ID"]
    assert "--cursor " in result.stderr
    assert "listed-room" in ok(server, "rooms", "list", "--all").stdout


def test_get_by_id_and_custom_id(server: Server) -> None:
    room = as_json(ok(server, "rooms", "create", "--custom-id", "lookup", "--json"))
    for key in (room["roomId"], "lookup"):
        assert as_json(ok(server, "rooms", "get", key, "--json")) == room
    assert "lookup" in ok(server, "rooms", "get", "lookup").stdout


def test_get_unknown_room_exit_1(server: Server) -> None:
    result = run(server, ["rooms", "get", "nowhere"])
    assert result.exit_code == 1 and result.stdout == ""
    line = one_error_line(result)
    assert "nowhere" in line and line.endswith("]")


@pytest.mark.parametrize("room_id", ["validate/x", "a/../b", " "])
def test_an_id_that_cannot_be_one_path_segment_is_refused(server: Server, room_id: str) -> None:
    result = run(server, ["rooms", "get", room_id])  # else `validate/x` would validate `x`
    assert result.exit_code == 2 and "cannot be addressed" in one_error_line(result)


def test_other_characters_are_encoded(server: Server) -> None:
    ok(server, "rooms", "create", "--custom-id", "q&a?x=1 #2")
    assert as_json(ok(server, "rooms", "get", "q&a?x=1 #2", "--json"))["customRoomId"] == (
        "q&a?x=1 #2"
    )


def test_validate_and_deactivate(server: Server) -> None:
    room = as_json(ok(server, "rooms", "create", "--custom-id", "short-lived", "--json"))
    valid = ok(server, "rooms", "validate", "short-lived")
    assert valid.stdout.startswith("valid: the room exists and is active")
    assert as_json(ok(server, "rooms", "validate", room["roomId"], "--json")) == room
    deactivated = as_json(ok(server, "rooms", "deactivate", "short-lived", "--json"))
    assert deactivated["active"] is False and deactivated["deactivated_at"] is not None
    inactive = run(server, ["rooms", "validate", "short-lived"])
    assert inactive.exit_code == 1 and inactive.stdout == ""
    assert one_error_line(inactive).endswith("[room_inactive]")
    assert "deactivated room" in ok(server, "rooms", "deactivate", room["roomId"]).stdout


def test_validate_unknown_room_exit_1(server: Server) -> None:
    result = run(server, ["rooms", "validate", "ghost-room"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "ghost-room" in line and line.endswith("[not_found]")
