"""``roomkey token inspect``: explain without a secret; with keys, list each check."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import API_KEY, HMAC, OTHER_SECRET, SECRET, as_json, create, invoke, one_error_line

from roomkey._codec import b64url_encode
from roomkey.keys import HmacKey, load_pem_key
from roomkey.minting import TokenMinter


def test_decodes_without_a_secret() -> None:
    token = create("--role", "speaker", "--metadata", '{"walletAddress":"mizanxali.eth"}')
    result = invoke(["token", "inspect", token])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for expected in ("native", "HS256", "alice", "standup", "speaker", "mizanxali.eth", '["mic"]'):
        assert expected in out
    assert "expires in 14 m" in out or "expires in 15 m" in out
    assert "nothing was verified" in out
    assert result.stderr == ""


def test_json_output_shape() -> None:
    token = create("--dialect", "livekit")
    doc = as_json(invoke(["token", "inspect", token, "--json"]))
    assert set(doc) >= {"dialect", "header", "payload", "claims", "times", "warnings", "checks"}
    assert doc["dialect"] == "livekit" and doc["valid"] is None and doc["checks"] == []
    assert doc["claims"]["grant"]["can_produce"] is True


def test_reads_stdin() -> None:
    token = create()
    result = invoke(["token", "inspect", "-", "--json"], input=f"Bearer {token}\n")
    assert result.exit_code == 0
    assert as_json(result)["claims"]["identity"] == "alice"


def test_empty_stdin_is_a_usage_error() -> None:
    result = invoke(["token", "inspect", "-"], input="")
    assert result.exit_code == 2
    assert one_error_line(result).endswith("[usage_error]")


def test_warnings_still_exit_0() -> None:
    minter = TokenMinter(HmacKey(API_KEY, SECRET), "livekit")
    token = minter.mint(identity="alice")  # not bound to a room: a warning
    result = invoke(["token", "inspect", token.token])
    assert result.exit_code == 0
    assert "warning: not bound to a room" in result.stdout


def test_with_keys_every_check_passes() -> None:
    doc = as_json(invoke(["token", "inspect", create(), *HMAC, "--room", "standup", "--json"]))
    assert doc["valid"] is True
    assert [c["status"] for c in doc["checks"]] == ["passed"] * 4


def test_with_wrong_secret_checks_fail_and_exit_1() -> None:
    args = ["token", "inspect", create(), "--api-key", API_KEY, "--api-secret", OTHER_SECRET]
    result = invoke(args)
    assert result.exit_code == 1
    assert "✗ failed" in result.stdout and "- skipped" in result.stdout
    assert one_error_line(result).endswith("[bad_signature]")


def test_wrong_room_fails_the_last_check() -> None:
    doc_result = invoke(["token", "inspect", create(), *HMAC, "--room", "other", "--json"])
    assert doc_result.exit_code == 1
    statuses = [c["status"] for c in as_json(doc_result)["checks"]]
    assert statuses == ["passed", "passed", "passed", "failed"]


def test_env_vars_run_the_checks() -> None:
    env = {"ROOMKEY_API_KEY": API_KEY, "ROOMKEY_API_SECRET": SECRET}
    doc = as_json(invoke(["token", "inspect", create(), "--json"], env=env))
    assert doc["valid"] is True


def test_jwks_file(tmp_path: Path, ed25519_pem: Path) -> None:
    token = create("--key-file", str(ed25519_pem), "--dialect", "huddle01")
    key = load_pem_key(ed25519_pem.read_bytes())
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.public_jwk()]}))
    doc = as_json(invoke(["token", "inspect", token, "--jwks", str(jwks), "--json"]))
    assert doc["dialect"] == "huddle01" and doc["valid"] is True


def test_undecodable_exits_1() -> None:
    result = invoke(["token", "inspect", "not-a-token"])
    assert result.exit_code == 1
    assert "cannot decode" in result.stdout
    assert one_error_line(result).endswith("[malformed]")
    body = b64url_encode(b'{"hello": "world"}').decode()
    result = invoke(["token", "inspect", f"eyJhbGciOiJIUzI1NiJ9.{body}.c2ln", "--json"])
    assert result.exit_code == 1
    assert as_json(result)["error"]


def test_markup_in_claims_is_shown_literally() -> None:
    token = create("--name", "[bold red]Mallory[/]")
    result = invoke(["token", "inspect", token])
    assert "[bold red]Mallory[/]" in result.stdout
