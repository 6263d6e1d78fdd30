"""``roomkey keys generate``: PEM and JWK, HS256 secrets, private files at 0600."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cli_support import API_KEY, as_json, invoke, one_error_line

from roomkey.keys import HmacKey, load_pem_key, load_public_jwk


@pytest.mark.parametrize(("alg", "kty"), [("EdDSA", "OKP"), ("ES256", "EC"), ("RS256", "RSA")])
def test_prints_pem_then_public_jwk(alg: str, kty: str) -> None:
    result = invoke(["keys", "generate", "--alg", alg])
    assert result.exit_code == 0, result.stderr
    pem, _, jwk_line = result.stdout.rpartition("-----END PRIVATE KEY-----\n")
    key = load_pem_key(pem + "-----END PRIVATE KEY-----\n")
    jwk = json.loads(jwk_line)
    assert jwk["kty"] == kty and jwk["alg"] == alg and "d" not in jwk
    assert load_public_jwk(jwk).kid == key.kid == jwk["kid"]


def test_json_document() -> None:
    doc = as_json(invoke(["keys", "generate", "--alg", "ES256", "--kid", "k1", "--json"]))
    assert set(doc) == {"alg", "kid", "public_jwk", "private_pem", "public_pem"}
    assert doc["kid"] == "k1" == doc["public_jwk"]["kid"]
    assert load_pem_key(doc["private_pem"], "k1").public_jwk() == doc["public_jwk"]


def test_out_writes_0600_and_prints_only_public_parts(tmp_path: Path) -> None:
    out = tmp_path / "ed25519.pem"
    result = invoke(["keys", "generate", "--alg", "EdDSA", "--out", str(out)])
    assert result.exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "PRIVATE" not in result.stdout
    key = load_pem_key(out.read_bytes())
    assert json.loads(result.stdout)["kid"] == key.kid
    assert str(out) in result.stderr


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "key.pem"
    out.write_text("keep me")
    out.chmod(0o644)
    result = invoke(["keys", "generate", "--out", str(out)])
    assert result.exit_code == 2
    assert "--force" in one_error_line(result)
    assert out.read_text() == "keep me"
    result = invoke(["keys", "generate", "--out", str(out), "--force", "--json"])
    assert result.exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert load_pem_key(out.read_bytes()).kid == as_json(result)["kid"]
    assert "private_pem" not in as_json(result)


def test_hs256_secret_and_suggested_api_key() -> None:
    result = invoke(["keys", "generate", "--alg", "HS256"])
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["ROOMKEY_API_KEY"].startswith("API") and len(lines["ROOMKEY_API_KEY"]) == 15
    secret = lines["ROOMKEY_API_SECRET"]
    assert len(secret) == 43  # 32 random bytes, base64url without padding
    HmacKey(lines["ROOMKEY_API_KEY"], secret)  # strong enough to load


def test_hs256_out_keeps_the_secret_off_stdout(tmp_path: Path) -> None:
    out = tmp_path / "secret"
    result = invoke(["keys", "generate", "--alg", "HS256", "--kid", API_KEY, "--out", str(out)])
    secret = out.read_text().strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and len(secret) == 43
    assert secret not in result.stdout + result.stderr
    assert result.stdout == f"ROOMKEY_API_KEY={API_KEY}\n"
    doc = as_json(invoke(["keys", "generate", "--alg", "HS256", "--json"]))
    assert set(doc) == {"alg", "api_key", "api_secret"}


def test_bad_alg_and_unwritable_out(tmp_path: Path) -> None:
    result = invoke(["keys", "generate", "--alg", "none"])
    assert result.exit_code == 2 and one_error_line(result).endswith("[usage_error]")
    result = invoke(["keys", "generate", "--out", str(tmp_path / "missing" / "k.pem")])
    assert result.exit_code == 2 and one_error_line(result).endswith("[file_error]")
