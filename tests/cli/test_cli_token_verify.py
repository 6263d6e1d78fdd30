"""``roomkey token verify``: exit 0 with the claims, 1 with the reason, 2 for usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import API_KEY, HMAC, OTHER_SECRET, SECRET, as_json, create, invoke, one_error_line

from roomkey.keys import HmacKey, load_pem_key
from roomkey.minting import TokenMinter

BOUND = ("--room", "standup", "--identity", "alice")


@pytest.mark.parametrize("dialect", ["native", "livekit", "videosdk"])
def test_round_trip_hmac_dialects(dialect: str) -> None:
    token = create("--role", "guest", "--dialect", dialect)
    result = invoke(["token", "verify", token, *HMAC, *BOUND])
    assert result.exit_code == 0, result.stderr
    doc = as_json(result)
    assert doc["valid"] is True and doc["dialect"] == dialect
    assert doc["claims"]["identity"] == "alice" and doc["claims"]["room"] == "standup"
    assert doc["grant"] == doc["claims"]["grant"]
    assert set(doc) == {"valid", "dialect", "kid", "alg", "grant", "claims", "unknown_keys"} | {
        "checked",  # "offline": the new fields saying that revocations were not seen
        "revocations_checked",
    }


def test_round_trip_huddle01(ed25519_pem: Path) -> None:
    token = create("--role", "speaker", "--dialect", "huddle01", "--key-file", str(ed25519_pem))
    args = ["token", "verify", token, "--api-key", API_KEY, "--key-file", str(ed25519_pem)]
    result = invoke([*args, *BOUND])
    assert result.exit_code == 0, result.stderr
    doc = as_json(result)
    assert doc["dialect"] == "huddle01" and doc["alg"] == "EdDSA"
    assert doc["grant"]["sources"] == ["mic"]


def test_public_key_file_and_custom_kid(tmp_path: Path, ed25519_pem: Path) -> None:
    public = tmp_path / "public.pem"
    public.write_bytes(load_pem_key(ed25519_pem.read_bytes()).public_pem())
    token = create("--key-file", str(ed25519_pem), "--kid", "k1")
    result = invoke(["token", "verify", token, "--key-file", str(public), "--kid", "k1", *BOUND])
    assert as_json(result)["kid"] == "k1"
    result = invoke(["token", "verify", token, "--key-file", str(public), *BOUND])
    assert result.exit_code == 1 and as_json(result)["code"] == "bad_signature"


def test_verify_with_jwks(tmp_path: Path, ed25519_pem: Path) -> None:
    token = create("--dialect", "huddle01", "--key-file", str(ed25519_pem))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [load_pem_key(ed25519_pem.read_bytes()).public_jwk()]}))
    result = invoke(["token", "verify", token, "--jwks", str(jwks), *BOUND])
    assert result.exit_code == 0, result.stderr


def test_stdin_and_env() -> None:
    env = {"ROOMKEY_API_KEY": API_KEY, "ROOMKEY_API_SECRET": SECRET}
    result = invoke(["token", "verify", "-", *BOUND], input=create() + "\n", env=env)
    assert result.exit_code == 0, result.stderr


def _refusal(args: list[str], code: str) -> dict[str, object]:
    result = invoke(["token", "verify", *args])
    assert result.exit_code == 1, result.stderr
    doc: dict[str, object] = as_json(result)
    assert doc["valid"] is False and doc["code"] == code and doc["message"]
    assert one_error_line(result).endswith(f"[{code}]")
    return doc


def test_wrong_room_and_identity() -> None:
    token = create()
    _refusal([token, *HMAC, "--room", "other"], "wrong_room")
    _refusal([token, *HMAC, "--identity", "bob"], "wrong_identity")
    _refusal([token, *HMAC, "--scope", "api"], "wrong_scope")


def test_wrong_secret_and_garbage() -> None:
    _refusal([create(), "--api-key", API_KEY, "--api-secret", OTHER_SECRET], "bad_signature")
    _refusal(["a.b", *HMAC], "malformed")


def test_expired_and_not_yet_valid() -> None:
    key = HmacKey(API_KEY, SECRET)
    old = TokenMinter(key, now=lambda: 1_600_000_000).mint(identity="alice").token
    doc = _refusal([old, *HMAC], "expired")
    assert "ago" in str(doc["message"])
    future = TokenMinter(key, now=lambda: 4_000_000_000).mint(identity="alice").token
    _refusal([future, *HMAC], "not_yet_valid")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], "usage_error"),
        (["--api-key", API_KEY], "usage_error"),
        (["--api-secret", SECRET], "usage_error"),
        ([*HMAC, "--leeway", "1000"], "invalid_configuration"),
        ([*HMAC, "--scope", "both"], "usage_error"),
        (["--jwks", "/nonexistent/jwks.json"], "file_error"),
    ],
)
def test_usage_errors_exit_2(args: list[str], code: str) -> None:
    result = invoke(["token", "verify", create(), *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert one_error_line(result).endswith(f"[{code}]")


def test_jwks_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "jwks.json"
    bad.write_text("{nope")
    result = invoke(["token", "verify", create(), "--jwks", str(bad)])
    assert result.exit_code == 2 and one_error_line(result).endswith("[invalid_json]")
    bad.write_text("[]")
    result = invoke(["token", "verify", create(), "--jwks", str(bad)])
    assert result.exit_code == 2 and one_error_line(result).endswith("[invalid_json]")
