"""``roomkey roles | audit | project ...`` against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import as_json, one_error_line
from remote_support import Server, ok, run, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


# ---- roles --------------------------------------------------------------------------------


def test_put_get_list_delete(server: Server) -> None:
    role = as_json(
        ok(
            server,
            "roles",
            "put",
            "presenter",
            "--grant",
            "canConsume=true",
            "--grant",
            'canPublishSources=["screen"]',
            "--json",
        )
    )
    assert role["name"] == "presenter"
    assert role["grant"]["can_consume"] is True and role["grant"]["sources"] == ["screen"]
    assert role["grant"]["admin"] is False  # unnamed permissions are denied
    assert as_json(ok(server, "roles", "get", "presenter", "--json")) == role
    assert "presenter" in [r["name"] for r in as_json(ok(server, "roles", "list", "--json"))]
    table = ok(server, "roles", "list").stdout
    assert table.splitlines()[0].split() == ["NAME", "PERMISSIONS", "UPDATED"]
    assert "role presenter" in ok(server, "roles", "get", "presenter").stdout
    assert ok(server, "roles", "delete", "presenter").stdout == "deleted role presenter\n"
    gone = run(server, ["roles", "get", "presenter"])
    assert gone.exit_code == 1 and one_error_line(gone).endswith("[not_found]")


def test_put_replaces_and_takes_a_json_object(server: Server) -> None:
    ok(server, "roles", "put", "viewer", "--grant", "canConsume=true")
    role = as_json(
        ok(server, "roles", "put", "viewer", "--grant", '{"canSendData":true}', "--json")
    )
    assert role["grant"]["can_send_data"] is True and role["grant"]["can_consume"] is False
    assert as_json(ok(server, "roles", "delete", "viewer", "--json")) == {"deleted": "viewer"}


def test_put_needs_permissions(server: Server) -> None:
    result = run(server, ["roles", "put", "empty"])
    assert result.exit_code == 2 and "--grant" in one_error_line(result)


def test_put_misspelt_permission_is_the_servers_hint(server: Server) -> None:
    result = run(server, ["roles", "put", "typo", "--grant", "canConsum=true"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "did you mean" in line and line.endswith("[invalid_grant]")


# ---- audit --------------------------------------------------------------------------------


def test_audit_lists_issued_tokens(server: Server) -> None:
    issued = server.http("POST", "/v1/tokens", json={"identity": "ana", "room": "audited"}).json()
    page = as_json(ok(server, "audit", "list", "--room", "audited", "--json"))
    assert set(page) == {"data", "next_cursor"}
    assert [row["jti"] for row in page["data"]] == [issued["jti"]]
    assert page["data"][0]["identity"] == "ana"
    none = as_json(ok(server, "audit", "list", "--identity", "nobody", "--json"))
    assert none == {"data": [], "next_cursor": None}
    table = ok(server, "audit", "list", "--limit", "1").stdout
    assert table.splitlines()[0].split()[:3] == ["ISSUED", "JTI", "IDENTITY"]
    assert "no issued tokens" in ok(server, "audit", "list", "--room", "empty-room").stdout


def test_audit_cursor(server: Server) -> None:
    for who in ("p1", "p2"):
        server.http("POST", "/v1/tokens", json={"identity": who, "room": "paged"})
    first = ok(server, "audit", "list", "--room", "paged", "--limit", "1", "--json")
    cursor = as_json(first)["next_cursor"]
    assert cursor
    rest = as_json(ok(server, "audit", "list", "--room", "paged", "--cursor", cursor, "--json"))
    assert {r["identity"] for r in as_json(first)["data"] + rest["data"]} == {"p1", "p2"}


# ---- project ------------------------------------------------------------------------------


def test_show_and_set(server: Server) -> None:
    project = as_json(ok(server, "project", "show", "--json"))
    assert project["id"] == "dev" and "default_ttl_s" in project["settings"]
    changed = as_json(
        ok(
            server,
            "project",
            "set",
            "--default-ttl",
            "10m",
            "--max-ttl",
            "2h",
            "--sandbox",
            "--no-auto-create-rooms",
            "--rate-limit",
            "120",
            "--json",
        )
    )
    settings = changed["settings"]
    assert (settings["default_ttl_s"], settings["max_ttl_s"]) == (600, 7200)
    assert settings["sandbox_enabled"] is True and settings["auto_create_rooms"] is False
    assert settings["rate_limit_per_min"] == 120
    text = ok(server, "project", "set", "--no-sandbox", "--auto-create-rooms").stdout
    assert "sandbox_enabled" in text and "settings" in text
    assert as_json(ok(server, "project", "show", "--json"))["settings"]["sandbox_enabled"] is False


def test_set_videosdk_roleless_api(server: Server) -> None:
    shown = as_json(ok(server, "project", "show", "--json"))
    assert shown["settings"]["videosdk_roleless_api"] is False  # off by default
    on = as_json(ok(server, "project", "set", "--videosdk-roleless-api", "--json"))
    assert on["settings"]["videosdk_roleless_api"] is True
    off = as_json(ok(server, "project", "set", "--no-videosdk-roleless-api", "--json"))
    assert off["settings"]["videosdk_roleless_api"] is False


def test_set_needs_a_change_and_the_server_checks_it(server: Server) -> None:
    nothing = run(server, ["project", "set"])
    assert nothing.exit_code == 2 and "nothing to change" in one_error_line(nothing)
    bad = run(server, ["project", "set", "--default-ttl", "3h", "--max-ttl", "1h"])
    assert bad.exit_code == 1
    assert "default_ttl_s cannot exceed max_ttl_s" in one_error_line(bad)
    unit = run(server, ["project", "set", "--max-ttl", "forever"])
    assert unit.exit_code == 2 and "--max-ttl 'forever'" in one_error_line(unit)
