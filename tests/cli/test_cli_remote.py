"""The server-management client and ``roomkey keys create|list|rotate|disable|delete``.

Against a real ``roomkey serve --dev`` process (one per module): credentials (a server token, or
an API key and secret minted into a short-lived one), the server's errors as the CLI's one line,
an unreachable server, the secret shown exactly once, and the issue's commands as written.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import as_json, one_error_line
from remote_support import (
    DEV_KEY,
    DEV_SECRET,
    Server,
    free_port,
    ok,
    run,
    running_server,
    shell,
)

from roomkey import AccessToken
from roomkey.cli.remote import CLI_TOKEN_TTL_S, Credentials
from roomkey.keys import KeyRing
from roomkey.verifying import TokenVerifier


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


def _new_api_key(server: Server, description: str = "") -> dict[str, str]:
    created: dict[str, str] = as_json(
        ok(server, "keys", "create", "--description", description, "--json")
    )
    return created


# ---- credentials and transport ------------------------------------------------------------


def test_api_key_and_secret_mint_a_five_minute_api_scope_token() -> None:
    token = Credentials(api_key=DEV_KEY, api_secret=DEV_SECRET).bearer()
    ring = KeyRing()
    ring.add_hmac(DEV_KEY, DEV_SECRET)
    verified = TokenVerifier(ring).verify(token, scope="api")
    claims = verified.claims
    assert claims.identity == "cli" and claims.api_key == DEV_KEY
    assert claims.expires_at is not None and claims.issued_at is not None
    assert claims.expires_at - claims.issued_at == CLI_TOKEN_TTL_S == 300


def test_a_token_wins_over_the_key_and_loses_its_bearer_prefix() -> None:
    creds = Credentials(token="Bearer abc.def.ghi", api_key=DEV_KEY, api_secret=DEV_SECRET)
    assert creds.bearer() == "abc.def.ghi"


def test_no_credentials_exit_2(server: Server) -> None:
    result = run(server, ["keys", "list"], env={"ROOMKEY_API_SECRET": None})
    assert result.exit_code == 2 and result.stdout == ""
    line = one_error_line(result)
    assert "no credentials" in line and "--token" in line and line.endswith("[usage_error]")


def test_secret_without_key_exit_2(server: Server) -> None:
    result = run(server, ["keys", "list"], env={"ROOMKEY_API_KEY": None})
    assert result.exit_code == 2
    assert "--api-secret needs --api-key" in one_error_line(result)


def test_weak_secret_is_refused_locally(server: Server) -> None:
    result = run(server, ["keys", "list", "--api-secret", "short"])
    assert result.exit_code == 2 and one_error_line(result).endswith("[weak_key]")


def test_server_down_is_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {"ROOMKEY_API_KEY": DEV_KEY, "ROOMKEY_API_SECRET": DEV_SECRET}
    result = run(None, ["keys", "list", "--server", url], env=env)
    assert result.exit_code == 2 and result.stdout == ""
    line = one_error_line(result)
    assert url in line and "connection refused" in line and "roomkey serve" in line
    assert line.endswith("[connection_error]")


def test_server_url_from_the_environment_and_the_default() -> None:
    env = {"ROOMKEY_API_KEY": DEV_KEY, "ROOMKEY_API_SECRET": DEV_SECRET}
    url = f"http://127.0.0.1:{free_port()}"
    assert url in one_error_line(run(None, ["rooms", "list"], env={**env, "ROOMKEY_URL": url}))


@pytest.mark.parametrize("url", ["ftp://example.com", "127.0.0.1:7800", "http://"])
def test_a_server_that_is_not_an_http_url_exit_2(server: Server, url: str) -> None:
    result = run(server, ["keys", "list", "--server", url])
    assert result.exit_code == 2
    assert "is not an http:// or https:// URL" in one_error_line(result)


def test_server_token_from_flag_and_environment(server: Server) -> None:
    no_key: dict[str, str | None] = {"ROOMKEY_API_KEY": None, "ROOMKEY_API_SECRET": None}
    by_flag = ok(server, "keys", "list", "--json", "--token", server.admin_token, env=no_key)
    by_env = ok(
        server, "keys", "list", "--json", env={**no_key, "ROOMKEY_TOKEN": server.admin_token}
    )
    for result in (by_flag, by_env):
        assert DEV_KEY in [k["kid"] for k in as_json(result)]


def test_a_bad_token_is_the_servers_401_exit_1_and_is_never_printed(server: Server) -> None:
    bad = server.admin_token[:-4] + ("AAAA" if not server.admin_token.endswith("AAAA") else "BBBB")
    result = run(server, ["keys", "list", "--token", bad])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("error: Token is invalid or expired") and line.endswith("[unauthorized]")
    assert bad not in result.stderr


def test_a_participant_token_is_forbidden(server: Server) -> None:
    room_token = AccessToken(DEV_KEY, DEV_SECRET).with_identity("alice").with_room("r").to_jwt()
    result = run(server, ["rooms", "list", "--token", room_token])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "participant (room-scope) token" in line and line.endswith("[forbidden]")


def test_help_never_shows_a_token_from_the_environment(server: Server) -> None:
    result = run(server, ["keys", "list", "--help"], env={"ROOMKEY_TOKEN": server.admin_token})
    assert result.exit_code == 0 and "ROOMKEY_TOKEN" in result.stdout
    assert server.admin_token not in result.stdout


def test_version_imports_neither_the_server_nor_httpx() -> None:
    code = (
        "import sys; from roomkey.cli import main; sys.argv = ['roomkey', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('httpx', 'fastapi', 'sqlalchemy', 'roomkey.service', 'roomkey.store', "
        "'roomkey.api')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("[]"), done.stdout


# ---- keys create ---------------------------------------------------------------------------


def test_create_shows_the_secret_once_with_a_warning(server: Server) -> None:
    result = ok(server, "keys", "create", "--description", "ci deploys")
    lines = result.stdout.splitlines()
    key_line = next(line for line in lines if line.startswith("ROOMKEY_API_KEY="))
    secret_line = next(line for line in lines if line.startswith("ROOMKEY_API_SECRET="))
    kid, secret = key_line.split("=", 1)[1], secret_line.split("=", 1)[1]
    assert len(secret) >= 43 and result.stdout.count(secret) == 1
    assert "shown only this once" in result.stderr and "ci deploys" in result.stdout
    # the secret works, and is never shown again
    as_new = {"ROOMKEY_API_KEY": kid, "ROOMKEY_API_SECRET": secret}
    for args in (["keys", "list"], ["keys", "list", "--json"]):
        listed = ok(server, *args, env=as_new)
        assert kid in listed.stdout and secret not in listed.stdout + listed.stderr
    assert secret not in server.http("GET", f"/v1/keys/{kid}").text


def test_create_json_document(server: Server) -> None:
    result = ok(server, "keys", "create", "--json")
    doc = json.loads(result.stdout)
    assert doc["purpose"] == "api" and doc["alg"] == "HS256" and doc["status"] == "active"
    assert doc["api_key"] == doc["kid"] and len(doc["api_secret"]) >= 43
    assert {"created_at", "expires_at", "description", "public_jwk"} <= set(doc)
    assert "shown only this once" in result.stderr


@pytest.mark.parametrize(("alg", "kty"), [(None, "OKP"), ("ES256", "EC"), ("RS256", "RSA")])
def test_create_signing_key(server: Server, alg: str | None, kty: str) -> None:
    args = ["keys", "create", "--signing", "--json"] + (["--alg", alg] if alg else [])
    result = ok(server, *args)
    doc = json.loads(result.stdout)
    assert doc["purpose"] == "signing" and doc["alg"] == (alg or "EdDSA")
    assert doc["public_jwk"]["kty"] == kty and "d" not in doc["public_jwk"]
    assert doc.get("api_secret") is None and result.stderr == ""
    jwks = server.http("GET", "/.well-known/jwks.json").json()
    assert doc["kid"] in [k["kid"] for k in jwks["keys"]]


def test_create_signing_text_prints_the_public_jwk(server: Server) -> None:
    result = ok(server, "keys", "create", "--signing", "--alg", "EdDSA")
    jwk = json.loads(result.stdout.strip().splitlines()[-1])
    assert jwk["kty"] == "OKP" and jwk["kid"] in result.stdout.split("\n", 3)[1]
    assert "ROOMKEY_API_SECRET" not in result.stdout


def test_alg_needs_signing(server: Server) -> None:
    result = run(server, ["keys", "create", "--alg", "ES256"])
    assert result.exit_code == 2 and "--signing" in one_error_line(result)


def test_a_server_validation_error_keeps_its_message(server: Server) -> None:
    result = run(server, ["keys", "create", "--description", "x" * 201])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("error: description: ") and line.endswith("[validation_error]")


# ---- keys list / rotate / disable / delete --------------------------------------------------


def test_list_table_and_json(server: Server) -> None:
    created = _new_api_key(server, "listed")
    table = ok(server, "keys", "list").stdout
    assert table.splitlines()[0].split() == [
        "KID",
        "PURPOSE",
        "ALG",
        "STATUS",
        "CREATED",
        "EXPIRES",
        "DESCRIPTION",
    ]
    row = next(line for line in table.splitlines() if line.strip().startswith(created["kid"]))
    assert row.split()[1:4] == ["api", "HS256", "active"] and "listed" in row
    assert created["api_secret"] not in table
    keys = as_json(ok(server, "keys", "list", "--json"))
    assert all("api_secret" not in k for k in keys)
    assert {k["kid"] for k in keys} >= {DEV_KEY, created["kid"]}


def test_rotate_with_overlap(server: Server) -> None:
    old = _new_api_key(server, "to rotate")
    before = int(time.time())
    result = ok(server, "keys", "rotate", old["kid"], "--overlap", "1h", "--json")
    new = json.loads(result.stdout)
    assert new["rotated_from"] == old["kid"] and new["kid"] != old["kid"]
    assert new["api_secret"] and "shown only this once" in result.stderr
    old_now = server.http("GET", f"/v1/keys/{old['kid']}").json()
    assert before + 3600 - 5 <= old_now["expires_at"] <= int(time.time()) + 3600 + 5


def test_rotate_text_shows_the_new_secret_once(server: Server) -> None:
    old = _new_api_key(server)
    result = ok(server, "keys", "rotate", old["kid"], "--overlap", "0")
    secret = next(
        line.split("=", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("ROOMKEY_API_SECRET=")
    )
    assert result.stdout.count(secret) == 1 and old["kid"] in result.stdout


def test_rotate_bad_overlap_exit_2(server: Server) -> None:
    result = run(server, ["keys", "rotate", DEV_KEY, "--overlap", "soon"])
    assert result.exit_code == 2 and "--overlap 'soon' is not a duration" in one_error_line(result)


def test_disable_stops_the_key(server: Server) -> None:
    key = _new_api_key(server)
    as_key = {"ROOMKEY_API_KEY": key["kid"], "ROOMKEY_API_SECRET": key["api_secret"]}
    ok(server, "rooms", "list", env=as_key)
    disabled = as_json(ok(server, "keys", "disable", key["kid"], "--json"))
    assert disabled["status"] == "disabled" and disabled["disabled_at"] is not None
    refused = run(server, ["rooms", "list"], env=as_key)
    assert refused.exit_code == 1 and one_error_line(refused).endswith("[unauthorized]")
    assert key["api_secret"] not in refused.stderr


def test_disable_text(server: Server) -> None:
    key = _new_api_key(server)
    out = ok(server, "keys", "disable", key["kid"]).stdout
    assert f"disabled key {key['kid']}" in out and "disabled" in out.split("status", 1)[1]


@pytest.mark.parametrize("command", [["disable"], ["rotate"], ["delete", "--yes"]])
def test_unknown_key_id_is_the_servers_message_exit_1(server: Server, command: list[str]) -> None:
    result = run(server, ["keys", command[0], "no-such-key", *command[1:]])
    assert result.exit_code == 1 and result.stdout == ""
    assert one_error_line(result) == (
        "error: key 'no-such-key' does not exist in this project [not_found]"
    )


def test_delete_asks_first(server: Server) -> None:
    key = _new_api_key(server)
    refused = run(server, ["keys", "delete", key["kid"]])  # no answer on stdin
    assert refused.exit_code == 2
    assert refused.stderr.rstrip().splitlines()[-1].endswith("[not_confirmed]")
    said_no = run(server, ["keys", "delete", key["kid"]], input="n\n")
    assert said_no.exit_code == 2
    assert server.http("GET", f"/v1/keys/{key['kid']}").status_code == 200
    said_yes = ok(server, "keys", "delete", key["kid"], input="y\n")
    assert f"deleted key {key['kid']}" in said_yes.stdout
    assert server.http("GET", f"/v1/keys/{key['kid']}").status_code == 404


def test_delete_yes_and_json(server: Server) -> None:
    key = _new_api_key(server)
    assert as_json(ok(server, "keys", "delete", key["kid"], "--yes", "--json")) == {
        "deleted": key["kid"]
    }
    again = run(server, ["keys", "delete", key["kid"], "-y"])
    assert again.exit_code == 1 and one_error_line(again).endswith("[not_found]")


# ---- the issue's commands, as written ------------------------------------------------------


def test_issue_keys_commands(server: Server) -> None:
    env = {"ROOMKEY_API_KEY": DEV_KEY, "ROOMKEY_API_SECRET": DEV_SECRET}
    flag = f"--server {server.url}"
    created = shell(f"roomkey keys create {flag}", env)
    assert created.returncode == 0, created.stderr
    assert "ROOMKEY_API_SECRET=" in created.stdout and "shown only this once" in created.stderr
    kid = created.stdout.split("ROOMKEY_API_KEY=", 1)[1].split()[0]
    listed = shell(f"roomkey keys list {flag}", env)
    assert listed.returncode == 0 and kid in listed.stdout
    assert "ROOMKEY_API_SECRET" not in listed.stdout
    rotated = shell(f"roomkey keys rotate {kid} {flag}", env)
    assert rotated.returncode == 0 and f"{kid}" in rotated.stdout
    assert shell(f"roomkey keys disable {kid} {flag}", env).returncode == 0
    not_asked = shell(f"roomkey keys delete {kid} {flag} < /dev/null", env)
    assert not_asked.returncode == 2 and "--yes" in not_asked.stderr
    assert shell(f"roomkey keys delete {kid} {flag} --yes", env).returncode == 0
    gone = shell(f"roomkey keys delete {kid} {flag} --yes", env)
    assert gone.returncode == 1
    assert gone.stderr == f"error: key '{kid}' does not exist in this project [not_found]\n"


def test_issue_rooms_line(server: Server) -> None:
    env = {"ROOMKEY_URL": server.url, "ROOMKEY_API_KEY": DEV_KEY, "ROOMKEY_API_SECRET": DEV_SECRET}
    line = (
        "roomkey rooms create --custom-id weekly-standup ; roomkey rooms list ; "
        "roomkey rooms validate weekly-standup"
    )
    done = shell(line, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("weekly-standup") >= 3
    assert "valid: the room exists and is active" in done.stdout


def test_issue_revoke_commands(server: Server) -> None:
    env = {"ROOMKEY_API_KEY": DEV_KEY, "ROOMKEY_API_SECRET": DEV_SECRET}
    flag = f"--server {server.url}"
    room = server.http("POST", "/v1/rooms", json={"customRoomId": "revoke-demo"}).json()["roomId"]
    by_jti = shell(f"roomkey revoke --jti tok-123 {flag} --json", env)
    assert by_jti.returncode == 0 and json.loads(by_jti.stdout)["kind"] == "jti"
    by_identity = shell(f"roomkey revoke --identity alice --room {room} {flag} --json", env)
    assert by_identity.returncode == 0, by_identity.stderr
    rule = json.loads(by_identity.stdout)
    assert (rule["kind"], rule["identity"], rule["room"]) == ("identity", "alice", room)


def test_issue_revoke_issued_before(tmp_path: Path) -> None:
    """`--issued-before 2026-11-23T10:00Z`: accepted once past; refused before (no lockout)."""
    instant = 1_795_428_000  # 2026-11-23T10:00Z
    with running_server(tmp_path) as own:  # a server of its own: this rule may revoke everything
        env = {"ROOMKEY_API_KEY": DEV_KEY, "ROOMKEY_API_SECRET": DEV_SECRET}
        command = f"roomkey revoke --issued-before 2026-11-23T10:00Z --server {own.url}"
        done = shell(command, env)
        if time.time() + 60 < instant:
            assert done.returncode == 2 and "is in the future" in done.stderr
            # past the CLI's own check, the server refuses it too: no lockout is possible
            done = shell(command + " --allow-future --json", env)
            assert done.returncode == 1 and "in the future" in done.stderr
            still_works = shell(f"roomkey rooms list --server {own.url}", env)
            assert still_works.returncode == 0, still_works.stderr
        else:
            assert done.returncode == 0, done.stderr
            assert "2026-11-23 10:00:00Z" in done.stdout
