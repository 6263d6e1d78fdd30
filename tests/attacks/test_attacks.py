"""One test per known JWT attack on algorithms, keys, headers and signatures.

In the spirit of PyJWT's ``test_advisory.py``: each test names the attack (and its CVE class where
there is one), forges the hostile token byte by byte, and asserts the stable error ``code``. Every
refusal is also checked for leaks: no secret, no whole token in the message or details.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from attack_support import (
    API_KEY,
    NOW,
    OTHER_API_KEY,
    SECRET,
    assert_rejected,
    b64,
    forge,
    hs_header,
    livekit_payload,
    native_payload,
    to_json,
    unb64,
)
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey

from roomkey.errors import InvalidKeyError
from roomkey.keys import EcKey, Ed25519Key, HmacKey, Key, KeyRing, generate_key
from roomkey.minting import TokenMinter
from roomkey.verifying import UNKNOWN_OR_BAD, TokenVerifier

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
ALL_KEYS = ["hmac_key", "ed_key", "ec_key", "rsa_key"]
ASYMMETRIC_KEYS = ["ed_key", "ec_key", "rsa_key"]


def _header_for(key: Key, **extra: Any) -> dict[str, Any]:
    return {"alg": key.alg.value, "typ": "JWT", "kid": key.kid, **extra}


def _replace_part(token: str, index: int, part: str) -> str:
    parts = token.split(".")
    parts[index] = part
    return ".".join(parts)


# ---- control -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_KEYS)
def test_control_forged_genuine_tokens_verify(
    request: pytest.FixtureRequest, verifier: TokenVerifier, name: str
) -> None:
    """Control: an honestly signed token from the forging helpers is accepted, so each refusal
    below is caused by the one thing its attack changes."""
    key: Key = request.getfixturevalue(name)
    token = forge(_header_for(key), native_payload(), key=key)
    verified = verifier.verify(token, room="standup", identity="alice")
    assert (verified.kid, verified.alg, verified.dialect) == (key.kid, key.alg.value, "native")


def test_control_livekit_token_selects_its_key_by_iss(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """Control: a LiveKit-style token has no kid; its key is chosen by ``iss``."""
    token = forge(hs_header(None), livekit_payload(), key=hmac_key)
    assert verifier.verify(token, room="standup", identity="alice").dialect == "livekit"


# ---- alg: none and unknown algorithms ------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_with_a_signature_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, alg: str
) -> None:
    """CVE-2015-9235 class (``alg: none``, any casing): roomkey has no ``none`` algorithm, even
    when the token carries a real signature."""
    token = forge(hs_header(alg=alg), native_payload(), key=hmac_key)
    error = assert_rejected(verifier, token, "disallowed_algorithm")
    assert error.details["alg"] == alg


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_without_a_signature_is_refused(verifier: TokenVerifier, alg: str) -> None:
    """CVE-2015-9235 class (unsigned token): ``header.payload.`` and ``header.payload`` fail the
    compact-form check (step 2) before the header is even read."""
    head, body = b64(to_json(hs_header(alg=alg))), b64(to_json(native_payload()))
    assert_rejected(verifier, f"{head}.{body}.", "malformed")
    assert_rejected(verifier, f"{head}.{body}", "malformed")


@pytest.mark.parametrize(
    "alg", ["HS512", "HS384", "PS256", "ES512", "ES384", "RS512", "hs256", "HS256 ", "Ed25519", ""]
)
def test_unknown_algorithm_is_refused(verifier: TokenVerifier, hmac_key: HmacKey, alg: str) -> None:
    """Algorithm substitution: only HS256, EdDSA, ES256 and RS256 exist, compared exactly."""
    token = forge(hs_header(alg=alg), native_payload(), key=hmac_key)
    assert_rejected(verifier, token, "disallowed_algorithm")


@pytest.mark.parametrize("alg", [None, 256, True, ["HS256"], {"name": "HS256"}, ...])
def test_non_string_or_missing_algorithm_is_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, alg: Any
) -> None:
    """Type confusion in ``alg`` (a list or object that a lax library might coerce)."""
    header = hs_header()
    if alg is ...:
        del header["alg"]
    else:
        header["alg"] = alg
    assert_rejected(verifier, forge(header, native_payload(), key=hmac_key), "malformed")


# ---- key confusion -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ASYMMETRIC_KEYS)
@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "by-iss"])
@pytest.mark.parametrize("material", ["pem", "jwk"])
def test_hs256_signed_with_a_public_key_is_refused(
    request: pytest.FixtureRequest,
    verifier: TokenVerifier,
    name: str,
    with_kid: bool,
    material: str,
) -> None:
    """CVE-2016-10555 / CVE-2022-29217 class (RS/ES/EdDSA→HS256 key confusion): the attacker
    HMACs the token with the public key as the secret. The algorithm is the key's, never the
    token's, so the header's HS256 is refused for an asymmetric key."""
    key: Key = request.getfixturevalue(name)
    public = key.public_pem() if material == "pem" else to_json(key.public_jwk())
    head = b64(to_json(hs_header(key.kid if with_kid else None)))
    body = b64(to_json(native_payload(iss=key.kid)))
    mac = hmac.digest(public, f"{head}.{body}".encode(), hashlib.sha256)
    assert_rejected(verifier, f"{head}.{body}.{b64(mac)}", "disallowed_algorithm")


@pytest.mark.parametrize("name", ASYMMETRIC_KEYS)
def test_public_key_material_is_refused_as_an_hmac_secret(
    request: pytest.FixtureRequest, name: str
) -> None:
    """CVE-2022-29217 class, at load time: a PEM public key is never accepted as an HMAC secret
    (so no configuration mistake can turn key confusion back on)."""
    pem = request.getfixturevalue(name).public_pem()
    for secret in (pem, pem.decode(), b"\n" + pem, b"ssh-ed25519 " + b"A" * 68):
        with pytest.raises(InvalidKeyError):
            HmacKey("confused", secret)


@pytest.mark.parametrize(
    ("target", "signer"),
    [("ed_key", "hmac_key"), ("hmac_key", "ed_key"), ("rsa_key", "ec_key"), ("ec_key", "rsa_key")],
)
def test_kid_of_a_key_bound_to_another_algorithm_is_refused(
    request: pytest.FixtureRequest, verifier: TokenVerifier, target: str, signer: str
) -> None:
    """Algorithm/key mismatch through ``kid``: naming key A while signing with B's algorithm
    fails on the algorithm binding; B's signature is never tried against A."""
    target_key: Key = request.getfixturevalue(target)
    signer_key: Key = request.getfixturevalue(signer)
    header = {"alg": signer_key.alg.value, "typ": "JWT", "kid": target_key.kid}
    token = forge(header, native_payload(), key=signer_key)
    assert_rejected(verifier, token, "disallowed_algorithm")


@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "by-iss"])
def test_huddle01_token_signed_with_an_hmac_secret_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey, with_kid: bool
) -> None:
    """Dialect/algorithm confusion: Huddle01 tokens are signed by the server's asymmetric key,
    so an HS256 one made with an API secret (which every API client holds) would let a client
    forge itself a host with admin rights. Refused on the algorithm binding, like any mismatch,
    before its signature is tried."""
    payload = {
        "iss": API_KEY,
        "roomId": "standup",
        "peerId": "mallory",
        "role": "host",
        "permissions": {"admin": True},
        "iat": NOW,
        "exp": NOW + 900,
    }
    token = forge(hs_header(API_KEY if with_kid else None), payload, key=hmac_key)
    error = assert_rejected(verifier, token, "disallowed_algorithm", room="standup")
    assert error.details["alg"] == "HS256"


# ---- kid tricks and the no-oracle rule -----------------------------------------------------

UNKNOWN_KIDS = [
    "../../dev/null",
    "/dev/null",
    "../../../../etc/passwd",
    "' OR '1'='1",
    "x'; DROP TABLE keys; --",
    "APIkey1 ",
    "apikey1",
    "APIKEY1",
    "*",
    "%",
    "https://attacker.example/jwks.json",
    "k" * 200,
]


@pytest.mark.parametrize("kid", UNKNOWN_KIDS)
def test_unknown_kid_looks_exactly_like_a_bad_signature(
    verifier: TokenVerifier, hmac_key: HmacKey, kid: str
) -> None:
    """``kid`` injection (path traversal, SQL-ish, near-misses): the kid is only a dictionary
    key, and an unknown one answers exactly as a bad signature does (no key-id oracle)."""
    token = forge(hs_header(kid), native_payload(), key=hmac_key)
    unknown = assert_rejected(verifier, token, "bad_signature")
    wrong = HmacKey(API_KEY, "w" * 40)
    bad = assert_rejected(
        verifier, forge(hs_header(), native_payload(), key=wrong), "bad_signature"
    )
    assert unknown.message == bad.message == UNKNOWN_OR_BAD
    assert unknown.details == bad.details


@pytest.mark.parametrize(
    "kid", ["", 1, 0, True, ["APIkey1"], {"kid": "APIkey1"}, "APIkey1\x00", "APIkey1\n", "\u202e1"]
)
def test_empty_non_string_or_unprintable_kid_is_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, kid: Any
) -> None:
    """``kid`` type confusion and control characters: refused as malformed before any lookup."""
    assert_rejected(verifier, forge(hs_header(kid), native_payload(), key=hmac_key), "malformed")


def test_unknown_key_and_bad_signature_give_equal_code_and_message(
    ring: KeyRing, hmac_key: HmacKey
) -> None:
    """No oracle: unknown kid, unknown iss, a retired key, a wrong secret and a truncated
    signature all give the same code, message and details."""
    retired = HmacKey("APIkey-retired", "r" * 40, expires_at=NOW - 1)
    ring.add(retired)
    verifier = TokenVerifier(ring, now=lambda: NOW)
    genuine = forge(hs_header(), native_payload(), key=hmac_key)
    tokens = {
        "wrong secret": forge(hs_header(), native_payload(), key=HmacKey(API_KEY, "w" * 40)),
        "unknown kid": forge(hs_header("APIkey9"), native_payload(), key=hmac_key),
        "unknown iss": forge(hs_header(None), native_payload(iss="APIkey9"), key=hmac_key),
        "livekit unknown iss": forge(hs_header(None), livekit_payload(iss="nope"), key=hmac_key),
        "retired key": forge(hs_header(retired.kid), native_payload(iss=retired.kid), key=retired),
        "truncated signature": _replace_part(genuine, 2, b64(unb64(genuine.split(".")[2])[:16])),
    }
    seen = set()
    for token in tokens.values():
        error = assert_rejected(verifier, token, "bad_signature")
        seen.add((error.code, error.message, json.dumps(error.details, sort_keys=True)))
    assert seen == {("bad_signature", UNKNOWN_OR_BAD, "{}")}


# ---- headers that would let the token choose its key or processing -------------------------


@pytest.fixture(scope="module")
def attacker_key() -> Ed25519Key:
    key = generate_key("EdDSA", kid="attacker")
    assert isinstance(key, Ed25519Key)
    return key


FORBIDDEN: dict[str, Any] = {
    "jku": "https://attacker.example/jwks.json",
    "x5u": "https://attacker.example/cert.pem",
    "jwk": {"kty": "oct", "k": b64(b"attacker-chosen-secret-32-bytes!")},
    "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
    "crit": ["exp"],
    "zip": "DEF",
    "b64": False,
    "cty": "JWT",
}


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_forbidden_header_is_refused_even_with_a_genuine_signature(
    verifier: TokenVerifier, hmac_key: HmacKey, name: str
) -> None:
    """jku/x5u (remote key URL), jwk/x5c (embedded key), crit (unknown must-understand
    extensions), zip (compression bombs), b64 (unencoded payload), cty (nested JWT): the token
    never chooses its key or processing, so the parameter alone is fatal."""
    token = forge(hs_header(**{name: FORBIDDEN[name]}), native_payload(), key=hmac_key)
    error = assert_rejected(verifier, token, "forbidden_header")
    assert error.details["parameter"] == name


@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "no-kid"])
def test_embedded_attacker_jwk_is_never_used(
    verifier: TokenVerifier, attacker_key: Ed25519Key, with_kid: bool
) -> None:
    """CVE-2018-0114 class (embedded ``jwk``): the attacker signs with their own key and ships
    its public half in the header; the header is refused before any key is chosen."""
    header: dict[str, Any] = {"alg": "EdDSA", "jwk": attacker_key.public_jwk()}
    if with_kid:
        header["kid"] = attacker_key.kid
    assert_rejected(verifier, forge(header, native_payload(), key=attacker_key), "forbidden_header")


def test_embedded_jwk_token_made_by_joserfc_is_refused(verifier: TokenVerifier) -> None:
    """CVE-2018-0114 class, with the token written by a real JOSE library (joserfc)."""
    key = ECKey.import_key(generate_key("ES256").private_pem())
    header = {"alg": "ES256", "jwk": key.as_dict(private=False)}
    token = jose_jwt.encode(header, native_payload(), key)
    assert_rejected(verifier, token, "forbidden_header")


def test_jku_token_made_by_pyjwt_with_the_real_secret_is_refused(verifier: TokenVerifier) -> None:
    """jku injection, written by PyJWT with the genuine secret: still refused."""
    headers = {"kid": API_KEY, "jku": "https://attacker.example/jwks.json"}
    token = pyjwt.encode(native_payload(), SECRET, algorithm="HS256", headers=headers)
    assert_rejected(verifier, token, "forbidden_header")


@pytest.mark.parametrize("typ", ["JWE", "at+jwt", "", 1, ["JWT"]])
def test_header_typ_other_than_jwt_is_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, typ: Any
) -> None:
    """Cross-JWT confusion: a token of another type (or a typ of the wrong JSON type)."""
    assert_rejected(
        verifier, forge(hs_header(typ=typ), native_payload(), key=hmac_key), "malformed"
    )


# ---- signatures ----------------------------------------------------------------------------


def _ec_token(ec_key: EcKey, r: int, s: int) -> str:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return forge(_header_for(ec_key), native_payload(), signature=signature)


@pytest.mark.parametrize(
    ("r", "s"),
    [
        (0, 0),
        (0, 1),
        (1, 0),
        (P256_ORDER, P256_ORDER),
        (P256_ORDER, 1),
        (1, P256_ORDER),
        (P256_ORDER + 1, 1),
        (2**256 - 1, 2**256 - 1),
    ],
    ids=["r=s=0", "r=0", "s=0", "r=s=n", "r=n", "s=n", "r=n+1", "max"],
)
def test_ecdsa_psychic_and_out_of_range_signatures_are_refused(
    verifier: TokenVerifier, ec_key: EcKey, r: int, s: int
) -> None:
    """CVE-2022-21449 class ("psychic signatures"): r = s = 0, or r/s ≥ n, must never verify."""
    error = assert_rejected(verifier, _ec_token(ec_key, r, s), "bad_signature")
    assert error.message == UNKNOWN_OR_BAD


def test_ecdsa_signature_with_r_or_s_from_a_genuine_one_but_out_of_range(
    verifier: TokenVerifier, ec_key: EcKey
) -> None:
    """Half a genuine ECDSA signature with the other half zeroed or set to n is refused."""
    genuine = forge(_header_for(ec_key), native_payload(), key=ec_key)
    raw = unb64(genuine.split(".")[2])
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    for bad_r, bad_s in ((r, 0), (0, s), (r, P256_ORDER), (P256_ORDER, s)):
        assert_rejected(verifier, _ec_token(ec_key, bad_r, bad_s), "bad_signature")


@pytest.mark.parametrize("length", [1, 32, 63, 65, 72])
def test_ecdsa_signature_of_the_wrong_length_is_refused(
    verifier: TokenVerifier, ec_key: EcKey, length: int
) -> None:
    """ES256 signatures are raw r‖s (64 bytes); DER or truncated forms never verify."""
    token = forge(_header_for(ec_key), native_payload(), signature=b"\x01" * length)
    assert_rejected(verifier, token, "bad_signature")


def test_ed25519_zero_and_malleable_signatures_are_refused(
    verifier: TokenVerifier, ed_key: Ed25519Key
) -> None:
    """Ed25519 zero signature and the S + L malleation (non-canonical S) never verify."""
    genuine = forge(_header_for(ed_key), native_payload(), key=ed_key)
    raw = unb64(genuine.split(".")[2])
    s = int.from_bytes(raw[32:], "little")
    malleated = raw[:32] + (s + ED25519_ORDER).to_bytes(32, "little")
    for signature in (b"\x00" * 64, malleated):
        assert_rejected(verifier, _replace_part(genuine, 2, b64(signature)), "bad_signature")


@pytest.mark.parametrize("name", ALL_KEYS)
def test_signature_stripping_is_refused(
    request: pytest.FixtureRequest, verifier: TokenVerifier, name: str
) -> None:
    """Signature stripping: a genuine token with its third part emptied or dropped."""
    key: Key = request.getfixturevalue(name)
    head, body, _ = forge(_header_for(key), native_payload(), key=key).split(".")
    assert_rejected(verifier, f"{head}.{body}.", "malformed")
    assert_rejected(verifier, f"{head}.{body}", "malformed")


@pytest.mark.parametrize("name", ALL_KEYS)
def test_flipped_bits_are_refused(
    request: pytest.FixtureRequest, verifier: TokenVerifier, name: str
) -> None:
    """Tampering: one changed character of the payload, one flipped bit of the signature, or an
    added header member, each on an otherwise genuine token."""
    key: Key = request.getfixturevalue(name)
    genuine = forge(_header_for(key), native_payload(), key=key)
    head, body, sig = genuine.split(".")
    tampered_body = b64(unb64(body).replace(b'"alice"', b'"alicf"'))
    assert_rejected(verifier, f"{head}.{tampered_body}.{sig}", "bad_signature")
    admin = b64(unb64(body).replace(b'"admin":false', b'"admin":true '))
    assert body not in (tampered_body, admin)
    assert_rejected(verifier, f"{head}.{admin}.{sig}", "bad_signature")
    extra_head = b64(to_json(_header_for(key, x=1)))
    assert_rejected(verifier, f"{extra_head}.{body}.{sig}", "bad_signature")
    raw_sig = unb64(sig)
    for bit in (0, 7, 8 * len(raw_sig) // 2, 8 * len(raw_sig) - 1):
        flipped = bytearray(raw_sig)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert_rejected(verifier, f"{head}.{body}.{b64(bytes(flipped))}", "bad_signature")


def test_signature_spliced_from_another_token_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """Splicing: the signature of one genuine token on the payload of another."""
    mine = forge(hs_header(), native_payload(), key=hmac_key)
    admin = forge(hs_header(), native_payload(sub="admin-bot", jti="j2"), key=hmac_key)
    spliced = _replace_part(admin, 2, mine.split(".")[2])
    assert_rejected(verifier, spliced, "bad_signature")


# ---- issuer binding ------------------------------------------------------------------------


def test_token_signed_by_key_a_claiming_issuer_b_is_refused(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """Cross-tenant issuer spoofing: project A's key signs a token claiming project B's API key."""
    token = forge(hs_header(API_KEY), native_payload(iss=OTHER_API_KEY), key=hmac_key)
    assert_rejected(verifier, token, "wrong_issuer")


def test_token_without_kid_claiming_issuer_b_is_checked_with_b_s_key(
    verifier: TokenVerifier, hmac_key: HmacKey
) -> None:
    """Issuer spoofing without a kid (LiveKit/VideoSDK layouts): the key is chosen by iss, so
    A's signature is checked with B's key and fails."""
    lk = forge(hs_header(None), livekit_payload(iss=OTHER_API_KEY), key=hmac_key)
    assert_rejected(verifier, lk, "bad_signature")
    vs = {
        "apikey": OTHER_API_KEY,
        "permissions": ["allow_join"],
        "version": 2,
        "roomId": "standup",
        "participantId": "alice",
        "iat": NOW,
        "exp": NOW + 900,
    }
    assert_rejected(verifier, forge(hs_header(None), vs, key=hmac_key), "bad_signature")


def test_kid_of_key_b_with_issuer_a_is_refused(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    """Key-id spoofing: naming B's kid while signing with A's secret fails the signature."""
    token = forge(hs_header(OTHER_API_KEY), native_payload(), key=hmac_key)
    assert_rejected(verifier, token, "bad_signature")


def test_minted_token_of_another_project_is_refused(
    verifier: TokenVerifier, other_hmac_key: HmacKey
) -> None:
    """A genuine token of project B cannot be used where A's key is forced by the header."""
    minted = TokenMinter(other_hmac_key, now=lambda: NOW).mint(identity="alice", room="standup")
    _, body, sig = minted.token.split(".")
    relabelled = b64(to_json(hs_header(API_KEY)))
    assert_rejected(verifier, f"{relabelled}.{body}.{sig}", "bad_signature")
