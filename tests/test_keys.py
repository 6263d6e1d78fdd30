"""Keys bound to one algorithm, PEM and JWK loading, thumbprints, and the key ring."""

from __future__ import annotations

import base64
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OKPKey, RSAKey

from roomkey.errors import InvalidKeyError, WeakKeyError
from roomkey.keys import (
    MIN_HMAC_BYTES,
    Algorithm,
    EcKey,
    Ed25519Key,
    HmacKey,
    KeyRing,
    RsaKey,
    generate_key,
    jwk_thumbprint,
    load_pem_key,
    load_public_jwk,
)

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000.0
MESSAGE = b"header.payload"

# RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebW"
    "KRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQ"
    "MicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2N"
    "cRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ASYMMETRIC = ["EdDSA", "ES256", "RS256"]
JOSE_CLASSES: dict[str, Any] = {"EdDSA": OKPKey, "ES256": ECKey, "RS256": RSAKey}


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return {alg: generate_key(alg) for alg in ASYMMETRIC}


# ---- HMAC ----------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "short", "x" * (MIN_HMAC_BYTES - 1), b"\x00" * 31])
def test_weak_hmac_secrets_are_refused(secret: str | bytes) -> None:
    with pytest.raises(WeakKeyError) as info:
        HmacKey(API_KEY, secret)
    assert info.value.code == "weak_key"
    assert info.value.details == {"kid": API_KEY}
    if secret:
        assert str(secret) not in info.value.message


def test_hmac_secret_length_counts_bytes() -> None:
    HmacKey(API_KEY, "x" * MIN_HMAC_BYTES)
    HmacKey(API_KEY, "é" * 16)  # 32 bytes in UTF-8
    with pytest.raises(WeakKeyError):
        HmacKey(API_KEY, "é" * 15)


def test_hmac_signs_verifies_and_defaults_its_issuer_to_the_kid() -> None:
    key = HmacKey(API_KEY, SECRET)
    assert key.alg is Algorithm.HS256 and key.issuer == API_KEY and key.can_sign
    signature = key.sign(MESSAGE)
    assert len(signature) == 32 and key.verify(MESSAGE, signature)
    assert not key.verify(MESSAGE + b"x", signature)
    assert not key.verify(MESSAGE, signature[:-1])
    assert not key.verify(MESSAGE, b"")
    assert key.public_jwk() is None
    assert key.secret_bytes() == SECRET.encode()
    assert HmacKey("kid", SECRET, issuer="other").issuer == "other"


@given(
    st.binary(min_size=MIN_HMAC_BYTES, max_size=200).filter(
        lambda s: not s.lstrip().startswith((b"-----BEGIN", b"ssh-", b"ecdsa-sha2-"))
    ),
    st.binary(max_size=300),
)
def test_hmac_signature_is_rfc_2104_hmac_sha256(secret: bytes, message: bytes) -> None:
    """Signing from the two keyed SHA-256 states is HMAC-SHA256, secrets over a block included."""
    key = HmacKey(API_KEY, secret)
    expected = hmac.digest(secret, message, "sha256")
    assert key.sign(message) == expected
    assert key.sign(message) == expected  # the keyed states are copied, never consumed
    assert key.verify(message, expected)


@pytest.mark.parametrize("size", [MIN_HMAC_BYTES, 63, 64, 65, 128])
def test_hmac_block_size_edges(size: int) -> None:
    secret = bytes(range(size))
    assert HmacKey(API_KEY, secret).sign(MESSAGE) == hmac.new(secret, MESSAGE, "sha256").digest()


def test_hmac_secret_never_appears_in_repr() -> None:
    key = HmacKey(API_KEY, SECRET)
    ring = KeyRing([key])
    for text in (repr(key), str(key), repr(ring), str(ring)):
        assert SECRET not in text
    assert repr(key) == "HmacKey(kid='APIkey1', alg='HS256')"


@pytest.mark.parametrize("kid", ["", "a\nb", "\x00", 1, None])
def test_key_ids_must_be_printable_strings(kid: Any) -> None:
    with pytest.raises(InvalidKeyError):
        HmacKey(kid, SECRET)


# ---- asymmetric keys and PEM ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_generated_keys_sign_and_verify(generated: dict[str, Any], alg: str) -> None:
    key = generated[alg]
    assert key.alg.value == alg and key.can_sign and key.issuer is None
    signature = key.sign(MESSAGE)
    assert key.verify(MESSAGE, signature)
    assert not key.verify(MESSAGE + b"!", signature)
    assert not key.verify(MESSAGE, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not key.verify(MESSAGE, b"")


def test_es256_signatures_are_raw_r_s(generated: dict[str, Any]) -> None:
    signature = generated["ES256"].sign(MESSAGE)
    assert len(signature) == 64


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_private_pem_round_trip(generated: dict[str, Any], alg: str) -> None:
    key = generated[alg]
    loaded = load_pem_key(key.private_pem())
    assert type(loaded) is type(key)
    assert loaded.kid == key.kid  # the thumbprint of the same public key
    assert key.verify(MESSAGE, loaded.sign(MESSAGE))
    assert load_pem_key(key.private_pem().decode(), kid="named").kid == "named"


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_public_pem_gives_a_verify_only_key(generated: dict[str, Any], alg: str) -> None:
    key = generated[alg]
    public = load_pem_key(key.public_pem())
    assert not public.can_sign and public.kid == key.kid
    assert public.verify(MESSAGE, key.sign(MESSAGE))
    assert public.public_pem() == key.public_pem()
    with pytest.raises(InvalidKeyError, match="cannot sign"):
        public.sign(MESSAGE)
    with pytest.raises(InvalidKeyError):
        public.private_pem()


def test_private_pem_never_appears_in_repr(generated: dict[str, Any]) -> None:
    for key in generated.values():
        pem = key.private_pem().decode()
        body = pem.splitlines()[1]
        assert body not in repr(key) and body not in repr(KeyRing([key]))


def test_weak_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = weak.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(WeakKeyError):
        RsaKey(None, weak)
    with pytest.raises(WeakKeyError):
        load_pem_key(pem)
    numbers = weak.public_key().public_numbers()
    n = numbers.n.to_bytes(128, "big")
    jwk = {"kty": "RSA", "n": base64.urlsafe_b64encode(n).rstrip(b"=").decode(), "e": "AQAB"}
    with pytest.raises(WeakKeyError):
        load_public_jwk(jwk)


def _pem(private: Any, password: bytes | None = None) -> bytes:
    encryption: Any = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    )


@pytest.mark.parametrize(
    "pem",
    [
        b"not a pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "",
    ],
)
def test_unreadable_pem_is_refused(pem: bytes | str) -> None:
    with pytest.raises(InvalidKeyError, match="not a readable"):
        load_pem_key(pem)


def test_encrypted_pem_is_refused() -> None:
    with pytest.raises(InvalidKeyError):
        load_pem_key(_pem(ec.generate_private_key(ec.SECP256R1()), b"password"))


def test_unsupported_curves_and_key_types_are_refused() -> None:
    with pytest.raises(InvalidKeyError, match="P-256"):
        load_pem_key(_pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(InvalidKeyError, match="unsupported key type"):
        load_pem_key(_pem(ed448.Ed448PrivateKey.generate()))


@pytest.mark.parametrize("alg", ["HS256", "none", "HS512", "ES512", ""])
def test_generate_key_only_makes_asymmetric_keys(alg: str) -> None:
    with pytest.raises(InvalidKeyError):
        generate_key(alg)


# ---- JWK and thumbprints -------------------------------------------------------------------


def test_rfc7638_thumbprint_test_vector() -> None:
    assert jwk_thumbprint({"e": "AQAB", "kty": "RSA", "n": RFC7638_N}) == RFC7638_THUMBPRINT
    assert jwk_thumbprint({"n": RFC7638_N, "kty": "RSA", "e": "AQAB"}) == RFC7638_THUMBPRINT
    key = load_public_jwk({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256"})
    assert key.kid == RFC7638_THUMBPRINT


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_default_kid_is_the_thumbprint_joserfc_computes(
    generated: dict[str, Any], alg: str
) -> None:
    key = generated[alg]
    assert key.kid == JOSE_CLASSES[alg].import_key(key.public_pem()).thumbprint()


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_public_jwk_round_trip(generated: dict[str, Any], alg: str) -> None:
    key = generated[alg]
    jwk = key.public_jwk()
    assert jwk["kid"] == key.kid and jwk["alg"] == alg and jwk["use"] == "sig"
    assert "d" not in jwk and "p" not in jwk
    loaded = load_public_jwk(jwk)
    assert type(loaded) is type(key) and loaded.kid == key.kid and not loaded.can_sign
    assert loaded.public_jwk() == jwk
    assert loaded.verify(MESSAGE, key.sign(MESSAGE))
    without_kid = {k: v for k, v in jwk.items() if k != "kid"}
    assert load_public_jwk(without_kid).kid == key.kid


def test_public_jwk_is_what_joserfc_exports(generated: dict[str, Any]) -> None:
    for alg, key in generated.items():
        theirs = JOSE_CLASSES[alg].import_key(key.public_pem()).as_dict(private=False)
        ours = key.public_jwk()
        assert {k: ours[k] for k in theirs if k in ours} == {
            k: v for k, v in theirs.items() if k in ours
        }


@pytest.mark.parametrize(
    "jwk",
    [
        {},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "X25519", "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"},  # not on the curve
        {"kty": "RSA", "n": 5, "e": "AQAB"},
        {"kty": "RSA", "n": "AQ==", "e": "AQAB"},
    ],
)
def test_bad_jwks_are_refused(jwk: dict[str, Any]) -> None:
    with pytest.raises(InvalidKeyError):
        load_public_jwk(jwk)


def test_jwk_alg_must_fit_the_key_type(generated: dict[str, Any]) -> None:
    jwk = {**generated["ES256"].public_jwk(), "alg": "HS256"}
    with pytest.raises(InvalidKeyError, match="does not fit"):
        load_public_jwk(jwk)
    jwk = {**generated["RS256"].public_jwk(), "alg": "PS256"}
    with pytest.raises(InvalidKeyError):
        load_public_jwk(jwk)


# ---- key ring ------------------------------------------------------------------------------


def test_key_ring_selects_by_kid_only(generated: dict[str, Any]) -> None:
    ring = KeyRing()
    hmac_key = ring.add_hmac(API_KEY, SECRET)
    ed = ring.add(generated["EdDSA"])
    assert ring.get(API_KEY, NOW) is hmac_key and ring.get(ed.kid, NOW) is ed
    assert ring.get("APIKEY1", NOW) is None and ring.get("", NOW) is None
    assert API_KEY in ring and "missing" not in ring and len(ring) == 2
    assert set(ring) == {hmac_key, ed}
    ring.remove(API_KEY)
    ring.remove("never-there")
    assert ring.get(API_KEY, NOW) is None and len(ring) == 1


def test_key_ring_honours_expires_at() -> None:
    ring = KeyRing([HmacKey(API_KEY, SECRET, expires_at=NOW + 60)])
    assert ring.get(API_KEY, NOW) is not None
    assert ring.get(API_KEY, NOW + 59.9) is not None
    assert ring.get(API_KEY, NOW + 60) is None  # the overlap ends exactly at expires_at
    assert ring.get(API_KEY, NOW + 3600) is None
    assert API_KEY in ring  # still held, just no longer usable


def test_key_ring_replaces_a_key_with_the_same_kid() -> None:
    ring = KeyRing([HmacKey(API_KEY, SECRET)])
    newer = ring.add_hmac(API_KEY, "n" * 40)
    assert ring.get(API_KEY, NOW) is newer and len(ring) == 1


def test_jwks_publishes_only_public_keys(generated: dict[str, Any]) -> None:
    ring = KeyRing([HmacKey(API_KEY, SECRET), *generated.values()])
    jwks = ring.jwks()
    assert sorted(k["kid"] for k in jwks["keys"]) == sorted(k.kid for k in generated.values())
    assert SECRET not in repr(jwks)
    other = KeyRing()
    added = other.add_jwks(jwks)
    assert {k.kid for k in added} == {k.kid for k in generated.values()}
    assert all(not k.can_sign for k in other)


def test_add_pem_and_bad_jwks() -> None:
    ring = KeyRing()
    key = ring.add_pem(generate_key("EdDSA").public_pem(), kid="ed")
    assert isinstance(key, Ed25519Key) and ring.get("ed", NOW) is key
    for bad in ({}, {"keys": {}}, {"keys": "x"}):
        with pytest.raises(InvalidKeyError):
            ring.add_jwks(bad)


def test_ec_key_type_is_es256(generated: dict[str, Any]) -> None:
    assert isinstance(generated["ES256"], EcKey)
    assert generated["ES256"].public_jwk()["crv"] == "P-256"
