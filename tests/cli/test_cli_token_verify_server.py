"""``roomkey token verify``: offline it says it cannot see revocations; ``--server`` can.

Against a real ``roomkey serve --dev`` process (one per module): a token revoked on the server
still verifies offline (and the answer says it was an offline check), and is refused through
``--server`` with the server's own code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import as_json, one_error_line
from remote_support import DEV_KEY, DEV_SECRET, Server, free_port, run, running_server

from roomkey import AccessToken

DEV = ("--api-key", DEV_KEY, "--api-secret", DEV_SECRET)
# Offline checks must not turn into calls: no ROOMKEY_URL reaches them either way.
OFFLINE_ENV = {"ROOMKEY_URL": None}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


def _token(identity: str) -> str:
    builder = AccessToken(DEV_KEY, DEV_SECRET).with_identity(identity).with_room("standup")
    return builder.to_jwt()


def _revoke(server: Server, identity: str) -> None:
    answer = server.http("POST", "/v1/revocations", json={"identity": identity})
    assert answer.status_code == 201, answer.text


def test_offline_says_it_cannot_see_revocations(server: Server) -> None:
    token = _token("mallory")
    _revoke(server, "mallory")
    result = run(None, ["token", "verify", token, *DEV, "--room", "standup"], env=OFFLINE_ENV)
    assert result.exit_code == 0, result.stderr  # offline, the revocation is invisible
    doc = as_json(result)
    assert doc["valid"] is True
    assert doc["checked"] == "offline" and doc["revocations_checked"] is False
    assert "revocations are not seen" in result.stderr and "--server" in result.stderr


def test_offline_refusal_is_marked_offline_and_one_error_line(server: Server) -> None:
    result = run(None, ["token", "verify", _token("bob"), *DEV, "--room", "elsewhere"])
    assert result.exit_code == 1
    doc = as_json(result)
    assert doc["code"] == "wrong_room" and doc["revocations_checked"] is False
    assert one_error_line(result).endswith("[wrong_room]")


def test_through_the_server_a_revoked_token_is_refused(server: Server) -> None:
    token = _token("trudy")
    _revoke(server, "trudy")
    args = ["token", "verify", token, "--server", server.url, "--room", "standup"]
    result = run(None, args)
    assert result.exit_code == 1
    doc = as_json(result)
    assert doc["valid"] is False and doc["code"] == "revoked"
    assert "checked" not in doc  # the server's answer, passed through as it is
    assert one_error_line(result).endswith("[revoked]")


def test_through_the_server_a_valid_token_prints_the_servers_answer(server: Server) -> None:
    token = _token("alice")
    args = ["token", "verify", token, "--server", server.url, "--room", "standup"]
    direct = server.http("POST", "/v1/tokens/verify", json={"token": token, "room": "standup"})
    result = run(None, [*args, "--token", server.admin_token])  # credentials are sent if given
    assert result.exit_code == 0, result.stderr
    assert as_json(result) == direct.json()
    assert result.stderr == ""


def test_through_the_server_key_options_are_a_usage_error(server: Server) -> None:
    args = ["token", "verify", _token("alice"), "--server", server.url, "--jwks", "jwks.json"]
    result = run(None, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert one_error_line(result).endswith("[usage_error]")


def test_through_an_unreachable_server_is_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run(None, ["token", "verify", _token("alice"), "--server", url])
    assert result.exit_code == 2 and result.stdout == ""
    assert one_error_line(result).endswith("[connection_error]")
