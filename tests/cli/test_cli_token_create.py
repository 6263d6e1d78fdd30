"""``roomkey token create``: flags to claims, every dialect, JSON output, and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from cli_support import API_KEY, HMAC, SECRET, as_json, create, invoke, one_error_line

from roomkey.keys import KeyRing, load_pem_key
from roomkey.verifying import TokenVerifier

ISSUE_FLAGS = (
    *HMAC,
    "--room",
    "standup",
    "--identity",
    "alice",
    "--role",
    "speaker",
    "--metadata",
    '{"walletAddress":"mizanxali.eth"}',
    "--ttl",
    "15m",
)


def verify(token: str, ring: KeyRing | None = None) -> dict[str, Any]:
    verified = TokenVerifier(ring or _hmac_ring()).verify(token, room="standup", identity="alice")
    return verified.claims.to_dict()


def _hmac_ring() -> KeyRing:
    ring = KeyRing()
    ring.add_hmac(API_KEY, SECRET)
    return ring


def test_prints_only_the_token() -> None:
    result = invoke(["token", "create", *ISSUE_FLAGS])
    assert result.exit_code == 0
    assert result.stderr == ""
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.count(".") == 2
    claims = verify(token)
    assert claims["role"] == "speaker"
    assert claims["metadata"] == {"walletAddress": "mizanxali.eth"}
    assert claims["grant"]["sources"] == ["mic"]
    assert claims["expires_at"] - claims["issued_at"] == 900


def test_json_output_shape() -> None:
    doc = as_json(invoke(["token", "create", *ISSUE_FLAGS, "--json"]))
    assert set(doc) == {"token", "dialect", "kid", "jti", "expires_at", "claims"}
    assert doc["dialect"] == "native" and doc["kid"] == API_KEY
    assert doc["claims"]["jti"] == doc["jti"]
    assert doc["claims"]["expires_at"] == doc["expires_at"]
    assert verify(doc["token"])["jti"] == doc["jti"]


def test_livekit_token_passes_livekits_own_verifier() -> None:
    from livekit import api

    token = invoke(["token", "create", *ISSUE_FLAGS, "--dialect", "livekit"]).stdout.strip()
    claims = api.TokenVerifier(API_KEY, SECRET).verify(token)
    assert claims.identity == "alice" and claims.video is not None
    assert claims.video.room == "standup"
    assert claims.video.can_publish_sources == ["microphone"]


def test_native_token_passes_pyjwt() -> None:
    token = create("--role", "host")
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert payload["iss"] == API_KEY and payload["sub"] == "alice"


def test_videosdk_speaker_is_refused_naming_the_field() -> None:
    args = ["token", "create", *ISSUE_FLAGS, "--dialect", "videosdk", "--join", "ask"]
    result = invoke([*args, "--scope", "room"])
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_error_line(result)
    assert "field: sources" in line and line.endswith("[unsupported_by_dialect]")


def test_videosdk_metadata_is_refused_naming_the_field() -> None:
    args = [*HMAC, "--identity", "alice", "--role", "guest", "--metadata", "{}"]
    result = invoke(["token", "create", *args, "--dialect", "videosdk"])
    assert result.exit_code == 2
    assert "field: metadata" in one_error_line(result)
    assert "--metadata" in one_error_line(result)


def test_videosdk_guest_with_ask_works() -> None:
    token = create("--role", "guest", "--dialect", "videosdk", "--join", "ask", "--scope", "room")
    payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert payload["permissions"] == ["ask_join"] and payload["roles"] == ["rtc"]
    assert verify(token)["grant"]["join"] == "ask"


def test_huddle01_with_generated_key_file(ed25519_pem: Path) -> None:
    args = [
        "token",
        "create",
        *ISSUE_FLAGS,
        "--dialect",
        "huddle01",
        "--key-file",
        str(ed25519_pem),
    ]
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    key = load_pem_key(ed25519_pem.read_bytes(), issuer=API_KEY)
    assert jwt.get_unverified_header(token)["kid"] == key.kid
    claims = verify(token, KeyRing([key]))
    assert claims["api_key"] == API_KEY and claims["metadata"] == {"walletAddress": "mizanxali.eth"}


def test_huddle01_needs_an_asymmetric_key() -> None:
    result = invoke(["token", "create", *ISSUE_FLAGS, "--dialect", "huddle01"])
    assert result.exit_code == 2
    assert one_error_line(result).endswith("[invalid_configuration]")


def test_grants_sources_attributes_name_and_ttl() -> None:
    token = create(
        "--role", "guest", "--grant", "canPublishData=false", "--grant", '{"hidden": true}',
        "--sources", "cam,mic", "--attribute", "team=blue", "--attribute", "seat=3",
        "--name", "Alice", "--ttl", "2h", "--metadata", "just text",
    )  # fmt: skip
    claims = verify(token)
    grant = claims["grant"]
    assert grant["can_send_data"] is False and grant["hidden"] is True
    assert grant["sources"] == ["cam", "mic"]
    assert claims["attributes"] == {"team": "blue", "seat": "3"}
    assert claims["name"] == "Alice" and claims["metadata"] == "just text"
    assert claims["expires_at"] - claims["issued_at"] == 7200


@pytest.mark.parametrize(("ttl", "seconds"), [("90s", 90), ("1d", 86400), ("600", 600)])
def test_ttl_forms(ttl: str, seconds: int) -> None:
    doc = as_json(invoke(["token", "create", *HMAC, "--identity", "a", "--ttl", ttl, "--json"]))
    assert doc["claims"]["expires_at"] - doc["claims"]["issued_at"] == seconds


def test_inline_custom_role() -> None:
    token = create("--role", "presenter", "--grant", "canConsume=true", "--grant",
                   'canPublishSources=["screen"]')  # fmt: skip
    claims = verify(token)
    assert claims["role"] == "presenter"
    grant = claims["grant"]
    assert grant["sources"] == ["screen"] and grant["can_send_data"] is False


def test_misspelt_preset_is_not_a_custom_role() -> None:
    result = invoke(["token", "create", *HMAC, "--identity", "a", "--role", "speakr"])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "did you mean 'speaker'" in line and line.endswith("[invalid_role]")


def test_scope_api_without_identity() -> None:
    args = ["token", "create", *HMAC, "--role", "bot", "--scope", "api", "--json"]
    doc = as_json(invoke(args))
    assert doc["claims"]["identity"] is None
    assert doc["claims"]["grant"]["scope"] == ["api"]


def test_env_vars_give_key_and_secret() -> None:
    env = {"ROOMKEY_API_KEY": API_KEY, "ROOMKEY_API_SECRET": SECRET}
    result = invoke(["token", "create", "--identity", "alice", "--room", "standup"], env=env)
    assert result.exit_code == 0, result.stderr
    assert verify(result.stdout.strip())["api_key"] == API_KEY


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--identity", "a", "--grant", "canPublsh=true"], "invalid_grant"),
        (["--identity", "a", "--grant", "nonsense"], "usage_error"),
        (["--identity", "a", "--grant", "{not json"], "usage_error"),
        (["--identity", "a", "--attribute", "novalue"], "usage_error"),
        (["--identity", "a", "--ttl", "soon"], "usage_error"),
        (["--identity", "a", "--ttl", "0"], "invalid_claim_value"),
        (["--identity", "a", "--ttl", "3d"], "invalid_claim_value"),
        (["--identity", "a", "--join", "ask", "--role", "host"], "invalid_grant"),
        (["--identity", "a", "--scope", "everything"], "invalid_grant"),
        (["--room", "standup"], "invalid_claim_value"),
        (["--identity", "a", "--dialect", "zoom"], "usage_error"),
        (["--identity", "a", "--bogus"], "usage_error"),
        (["--identity", "a", "--kid", "k1"], "usage_error"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], code: str) -> None:
    result = invoke(["token", "create", *HMAC, *args])
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert one_error_line(result).endswith(f"[{code}]")


def test_missing_key_material() -> None:
    result = invoke(["token", "create", "--identity", "a"])
    assert result.exit_code == 2
    assert "--api-secret" in one_error_line(result)
    result = invoke(["token", "create", "--identity", "a", "--api-secret", SECRET])
    assert "needs --api-key" in one_error_line(result)


def test_weak_secret_is_refused_without_echoing_it() -> None:
    weak = "short-secret-xyz"
    result = invoke(
        ["token", "create", "--api-key", API_KEY, "--api-secret", weak, "--identity", "a"]
    )
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.endswith("[weak_key]") and weak not in line


def test_unreadable_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    result = invoke(["token", "create", "--identity", "a", "--key-file", str(missing)])
    assert result.exit_code == 2
    assert one_error_line(result).endswith("[file_error]")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    result = invoke(["token", "create", "--identity", "a", "--key-file", str(garbage)])
    assert one_error_line(result).endswith("[invalid_key]")
