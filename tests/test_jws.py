"""The compact-JWS codec: what ``encode`` writes and what ``parse`` accepts (steps 1–3, 6)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws as jose_jws
from joserfc.jwk import ECKey, OctKey, RSAKey

from roomkey import jws
from roomkey.errors import (
    DisallowedAlgorithmError,
    ForbiddenHeaderError,
    MalformedTokenError,
    TokenTooLargeError,
)
from roomkey.keys import HmacKey, Key, generate_key

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
PAYLOAD = {"iss": API_KEY, "sub": "alice", "exp": 1_795_000_900}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict[str, Any], payload: Any = PAYLOAD, sig: bytes = b"s" * 32) -> str:
    parts = (json.dumps(header).encode(), json.dumps(payload).encode(), sig)
    return ".".join(_b64(p) for p in parts)


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {
        "HS256": HmacKey(API_KEY, SECRET),
        "EdDSA": generate_key("EdDSA"),
        "ES256": generate_key("ES256"),
        "RS256": generate_key("RS256"),
    }


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256", "RS256"])
def test_encode_writes_a_compact_jws_the_key_verifies(keys: dict[str, Key], alg: str) -> None:
    key = keys[alg]
    token = jws.encode(PAYLOAD, key)
    parsed = jws.parse(token)
    assert parsed.header == {"alg": alg, "typ": "JWT", "kid": key.kid}
    assert parsed.payload == PAYLOAD
    assert parsed.alg == alg and parsed.kid == key.kid
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()
    assert key.verify(parsed.signing_input, parsed.signature)


def test_encode_without_kid(keys: dict[str, Key]) -> None:
    parsed = jws.parse(jws.encode(PAYLOAD, keys["HS256"], kid=False))
    assert parsed.header == {"alg": "HS256", "typ": "JWT"}
    assert parsed.kid is None


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256", "RS256"])
def test_tokens_are_read_by_pyjwt(keys: dict[str, Key], alg: str) -> None:
    key = keys[alg]
    verifying = SECRET if alg == "HS256" else key.public_pem()  # type: ignore[attr-defined]
    token = jws.encode(PAYLOAD, key)
    decoded = pyjwt.decode(token, verifying, algorithms=[alg], options={"verify_exp": False})
    assert decoded == PAYLOAD


@pytest.mark.parametrize("alg", ["HS256", "ES256", "RS256"])
def test_tokens_are_read_by_joserfc(keys: dict[str, Key], alg: str) -> None:
    key = keys[alg]
    if alg == "HS256":
        jose_key: Any = OctKey.import_key(SECRET)
    elif alg == "ES256":
        jose_key = ECKey.import_key(key.public_pem())  # type: ignore[attr-defined]
    else:
        jose_key = RSAKey.import_key(key.public_pem())  # type: ignore[attr-defined]
    obj = jose_jws.deserialize_compact(jws.encode(PAYLOAD, key), jose_key, algorithms=[alg])
    assert json.loads(obj.payload) == PAYLOAD


@pytest.mark.parametrize("alg", ["HS256", "ES256", "RS256"])
def test_parse_accepts_tokens_written_by_pyjwt(keys: dict[str, Key], alg: str) -> None:
    key = keys[alg]
    signing = SECRET if alg == "HS256" else key.private_pem()  # type: ignore[attr-defined]
    token = pyjwt.encode(PAYLOAD, signing, algorithm=alg, headers={"kid": key.kid})
    parsed = jws.parse(token)
    assert parsed.payload == PAYLOAD
    assert key.verify(parsed.signing_input, parsed.signature)


def test_parse_accepts_bytes(keys: dict[str, Key]) -> None:
    token = jws.encode(PAYLOAD, keys["HS256"])
    assert jws.parse(token.encode()).payload == PAYLOAD


def test_size_is_checked_before_anything_else() -> None:
    with pytest.raises(TokenTooLargeError) as info:
        jws.parse("\x00" * 101, max_bytes=100)
    assert info.value.details == {"limit": 100}
    assert "101" in info.value.message


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d", "a.b.c.d.e", "", "abc"])
def test_parse_needs_exactly_three_parts(token: str) -> None:
    with pytest.raises(MalformedTokenError, match="three"):
        jws.parse(token)


@given(st.lists(st.sampled_from(["", "e30", "a", "."]), max_size=8).map("".join))
def test_parse_splits_exactly_as_splitting_on_every_dot(token: str) -> None:
    """Cut at the last dot, then the first: refuses what a full split refuses, with its count."""
    parts = token.split(".")
    try:
        parsed = jws.parse(token)
    except MalformedTokenError as exc:
        if len(parts) != 3:
            assert exc.message.endswith(f"(found {len(parts)})")
        elif not all(parts):
            assert exc.message == "a token part is empty"
        return
    assert len(parts) == 3 and parsed.signing_input == f"{parts[0]}.{parts[1]}".encode()


_HEAD = _b64(b'{"alg":"HS256"}')


@pytest.mark.parametrize("shape", ["{}.e30.c2ln", "{}.e30.c2ln.", ".{}.e30.c2ln", "{}..e30.c2ln"])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_parse_reads_str_and_bytes_alike_and_counts_extra_dots(shape: str, as_bytes: bool) -> None:
    text = shape.format(_HEAD)
    token: str | bytes = text.encode() if as_bytes else text
    if text.count(".") == 2:
        assert jws.parse(token).signing_input == f"{_HEAD}.e30".encode()
    else:
        with pytest.raises(MalformedTokenError, match=r"\(found 4\)"):
            jws.parse(token)


@pytest.mark.parametrize("token", [None, 1, ["a.b.c"]])
def test_parse_refuses_non_strings(token: Any) -> None:
    with pytest.raises(MalformedTokenError, match="string"):
        jws.parse(token)


def test_parse_refuses_non_ascii() -> None:
    with pytest.raises(MalformedTokenError, match="ASCII"):
        jws.parse(_token({"alg": "HS256"}) + "é")


@pytest.mark.parametrize("name", sorted(jws.FORBIDDEN_HEADERS))
def test_forbidden_headers(name: str) -> None:
    with pytest.raises(ForbiddenHeaderError) as info:
        jws.parse(_token({"alg": "HS256", name: "x"}))
    assert info.value.details == {"parameter": name}


def test_forbidden_header_is_reported_before_alg() -> None:
    with pytest.raises(ForbiddenHeaderError):
        jws.parse(_token({"alg": "none", "jwk": {}}))


@pytest.mark.parametrize("alg", ["none", "NONE", "HS512", "RS384", "PS256", "", "x" * 100])
def test_disallowed_algorithms(alg: str) -> None:
    with pytest.raises(DisallowedAlgorithmError) as info:
        jws.parse(_token({"alg": alg}))
    assert len(info.value.details["alg"]) <= 20  # an attacker's alg is echoed only truncated


@pytest.mark.parametrize(
    "header",
    [
        {},
        {"alg": None},
        {"alg": ["HS256"]},
        {"alg": "HS256", "kid": ""},
        {"alg": "HS256", "kid": 1},
        {"alg": "HS256", "kid": "a\nb"},
        {"alg": "HS256", "typ": "JWS"},
        {"alg": "HS256", "typ": 1},
    ],
)
def test_malformed_headers(header: dict[str, Any]) -> None:
    with pytest.raises(MalformedTokenError):
        jws.parse(_token(header))


def test_typ_is_optional_and_case_insensitive() -> None:
    assert jws.parse(_token({"alg": "HS256"})).header == {"alg": "HS256"}
    assert jws.parse(_token({"alg": "HS256", "typ": "jwt"})).header["typ"] == "jwt"


def test_non_string_kid_is_never_returned() -> None:
    header = {"alg": "HS256", "kid": None}
    assert jws.parse(_token(header)).kid is None


def test_payload_must_be_an_object() -> None:
    with pytest.raises(MalformedTokenError, match="payload must be a JSON object"):
        jws.parse(_token({"alg": "HS256"}, payload=[1]))


def test_header_cache_returns_checked_headers_and_stays_bounded() -> None:
    head = _token({"alg": "HS256", "kid": "cached"}).split(".")[0].encode()
    first = jws.parse_header(head)
    assert jws.parse_header(head) is first  # cached
    for n in range(jws._HEADER_CACHE_MAX + 5):
        jws.parse_header(_b64(json.dumps({"alg": "HS256", "kid": f"k{n}"}).encode()).encode())
    assert len(jws._HEADER_CACHE) <= jws._HEADER_CACHE_MAX
    with pytest.raises(DisallowedAlgorithmError):  # a bad header is never cached as good
        jws.parse_header(_b64(b'{"alg":"none"}').encode())
    with pytest.raises(DisallowedAlgorithmError):
        jws.parse_header(_b64(b'{"alg":"none"}').encode())


def test_decode_unverified_returns_header_and_payload(keys: dict[str, Key]) -> None:
    header, payload = jws.decode_unverified(jws.encode(PAYLOAD, keys["HS256"]))
    assert header["alg"] == "HS256" and payload == PAYLOAD
    with pytest.raises(TokenTooLargeError):
        jws.decode_unverified("a" * (64 * 1024 + 1))
