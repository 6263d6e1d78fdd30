"""Attacks on the encoding: compact form, base64url, JSON, size and nesting (steps 1–3 and 6).

Parser differentials are the theme: whenever two decoders could read the same bytes two ways
(padding, spare bits, duplicate names, NaN, a BOM), roomkey refuses rather than picks one.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from attack_support import (
    API_KEY,
    NOW,
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomkey.errors import TokenError
from roomkey.keys import HmacKey, KeyRing
from roomkey.verifying import TokenVerifier

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PARTS = {"header": 0, "payload": 1, "signature": 2}


def _with_part(token: str, index: int, part: str) -> str:
    parts = token.split(".")
    parts[index] = part
    return ".".join(parts)


def _dirty_tail(part: str) -> str:
    """The same bytes, but with the unused low bits of the last character set."""
    rem = len(part) % 4
    assert rem in (2, 3), "this part has no spare bits"
    spare = 0x0F if rem == 2 else 0x03
    last = ALPHABET.index(part[-1])
    return part[:-1] + ALPHABET[last | spare]


@pytest.fixture
def genuine(hmac_key: HmacKey) -> str:
    """A genuine token whose three parts all have spare bits (lengths not a multiple of 4)."""
    header = {"alg": "HS256", "kid": API_KEY}  # 31 bytes → 42 characters
    for n in range(8):
        token = forge(header, native_payload(jti="j" * (8 + n)), key=hmac_key)
        if all(len(p) % 4 in (2, 3) for p in token.split(".")):
            return token
    raise AssertionError("no payload length with spare bits found")


def test_control_genuine_fixture_verifies(verifier: TokenVerifier, genuine: str) -> None:
    """Control: the token every mutation below starts from is accepted."""
    assert verifier.verify(genuine).claims.identity == "alice"


# ---- compact form --------------------------------------------------------------------------


@pytest.mark.parametrize("parts", [1, 2, 4, 5, 6])
def test_wrong_number_of_parts_is_malformed(
    verifier: TokenVerifier, genuine: str, parts: int
) -> None:
    """Extra or missing dot segments, including the five-part JWE compact form."""
    segments = genuine.split(".")
    token = ".".join((segments * 2)[:parts])
    assert_rejected(verifier, token, "malformed")


def test_jwe_compact_token_is_malformed(verifier: TokenVerifier) -> None:
    """JWE/JWS confusion: an encrypted token (``alg: dir``, five parts) is never a JWS."""
    head = b64(to_json({"alg": "dir", "enc": "A256GCM", "kid": API_KEY}))
    token = f"{head}..{b64(b'iv' * 6)}.{b64(b'ciphertext')}.{b64(b'tag' * 5)}"
    assert_rejected(verifier, token, "malformed")


@pytest.mark.parametrize("token", ["", ".", "..", "...", "a..", ".b.", "..c"])
def test_empty_parts_are_malformed(verifier: TokenVerifier, token: str) -> None:
    """Degenerate tokens: nothing, or only dots."""
    assert_rejected(verifier, token, "malformed")


@pytest.mark.parametrize("token", [None, 123, 1.5, ["a.b.c"], {"token": "a.b.c"}, object()])
def test_non_string_token_is_malformed(verifier: TokenVerifier, token: Any) -> None:
    """Type confusion at the API boundary: a caller passing through a non-string value."""
    assert_rejected(verifier, token, "malformed")


# ---- base64url -----------------------------------------------------------------------------


@pytest.mark.parametrize("part", sorted(PARTS))
def test_padding_is_malformed(verifier: TokenVerifier, genuine: str, part: str) -> None:
    """Padding (``=``): lenient decoders ignore it, so it would give one token many spellings."""
    index = PARTS[part]
    value = genuine.split(".")[index]
    padded = value + "=" * (-len(value) % 4)
    assert padded != value
    assert_rejected(verifier, _with_part(genuine, index, padded), "malformed")
    assert_rejected(verifier, _with_part(genuine, index, value + "=="), "malformed")


@pytest.mark.parametrize("part", sorted(PARTS))
def test_spare_bits_set_are_malformed(verifier: TokenVerifier, genuine: str, part: str) -> None:
    """Non-canonical base64url (spare trailing bits set): decodes to the same bytes, so a lax
    decoder would accept a second spelling of a genuine signature."""
    index = PARTS[part]
    value = genuine.split(".")[index]
    dirty = _dirty_tail(value)
    assert dirty != value and unb64(dirty) == unb64(value)
    assert_rejected(verifier, _with_part(genuine, index, dirty), "malformed")


def test_standard_alphabet_is_malformed(verifier: TokenVerifier, hmac_key: HmacKey) -> None:
    """``+`` and ``/`` (standard base64) in place of ``-`` and ``_``: same bytes, other text."""
    for n in range(64):
        token = forge(hs_header(), native_payload(jti=f"jti-{n}"), key=hmac_key)
        sig = token.split(".")[2]
        if "-" in sig or "_" in sig:
            break
    else:
        raise AssertionError("no signature with - or _ found")
    standard = base64.b64encode(unb64(sig)).decode().rstrip("=")
    assert standard != sig
    assert_rejected(verifier, _with_part(token, 2, standard), "malformed")
    for index in (0, 1):
        value = token.split(".")[index]
        for char in "+/":
            assert_rejected(verifier, _with_part(token, index, char + value[1:]), "malformed")


@pytest.mark.parametrize("space", [" ", "\n", "\t", "\r\n", "\x00", "\x0b"])
@pytest.mark.parametrize("where", ["header", "payload", "signature", "start", "end"])
def test_whitespace_and_control_characters_are_malformed(
    verifier: TokenVerifier, genuine: str, space: str, where: str
) -> None:
    """Whitespace inside or around a token: lenient decoders skip it."""
    if where == "start":
        token = space + genuine
    elif where == "end":
        token = genuine + space
    else:
        index = PARTS[where]
        value = genuine.split(".")[index]
        token = _with_part(genuine, index, value[:5] + space + value[5:])
    assert_rejected(verifier, token, "malformed")


@pytest.mark.parametrize("part", sorted(PARTS))
def test_impossible_base64_length_is_malformed(
    verifier: TokenVerifier, genuine: str, part: str
) -> None:
    """A base64url text of length 4k+1 encodes no byte string at all."""
    index = PARTS[part]
    value = genuine.split(".")[index]
    while len(value) % 4 != 1:
        value += "A"
    assert_rejected(verifier, _with_part(genuine, index, value), "malformed")


@pytest.mark.parametrize(
    "intruder", ["é", "\u200b", "\uff21", "\u0430", "😀", "\udcff", "\u2024", "\u00a0"]
)
def test_non_ascii_characters_are_malformed(
    verifier: TokenVerifier, genuine: str, intruder: str
) -> None:
    """Unicode look-alikes and invisible characters (zero-width space, fullwidth A, Cyrillic a,
    one-dot leader, a lone surrogate) anywhere in the token."""
    for position in (3, len(genuine) // 2, len(genuine) - 3):
        token = genuine[:position] + intruder + genuine[position:]
        assert_rejected(verifier, token, "malformed")


def test_non_ascii_bytes_are_malformed(verifier: TokenVerifier, genuine: str) -> None:
    """Raw high bytes in a ``bytes`` token."""
    raw = genuine.encode()
    for intruder in (b"\x80", b"\xff", b"\xc3\xa9"):
        assert_rejected(verifier, raw[:10] + intruder + raw[10:], "malformed")


# ---- JSON ----------------------------------------------------------------------------------


def _raw(value: dict[str, Any], extra: str) -> bytes:
    """Compact JSON of ``value`` with ``extra`` spliced in before the closing brace."""
    text = to_json(value).decode()
    return (text[:-1] + extra + "}").encode()


HEADER_DUPLICATES = {
    "alg twice, none last": b'{"alg":"HS256","kid":"APIkey1","alg":"none"}',
    "alg twice, none first": b'{"alg":"none","kid":"APIkey1","alg":"HS256"}',
    "kid twice": b'{"alg":"HS256","kid":"APIkey2","kid":"APIkey1"}',
    "escaped duplicate": b'{"alg":"HS256","kid":"APIkey1","\\u0061lg":"HS256"}',
    "with whitespace": b'{ "alg" : "HS256" , "kid" : "APIkey1" , "alg" : "HS256" }',
}


@pytest.mark.parametrize("raw", HEADER_DUPLICATES.values(), ids=HEADER_DUPLICATES.keys())
def test_duplicate_header_members_are_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, raw: bytes
) -> None:
    """Duplicate JSON names in the header: first-wins and last-wins parsers disagree on
    ``alg``/``kid`` (a parser differential between the verifier and other components)."""
    assert_rejected(verifier, forge(raw, native_payload(), key=hmac_key), "malformed")


PAYLOAD_DUPLICATES = {
    "exp twice": _raw(native_payload(), f',"exp":{NOW + 10**8}'),
    "sub twice": _raw(native_payload(), ',"sub":"admin"'),
    "room twice": _raw(native_payload(), ',"room":"boardroom"'),
    "escaped exp": _raw(native_payload(), f',"\\u0065xp":{NOW + 10**8}'),
    "nested grant.admin": to_json(native_payload())
    .replace(b'"admin":false', b'"admin":false,"admin":true')
    .replace(b'"moderate":false', b'"moderate":true'),
    "nested in metadata": _raw(native_payload(), ',"metadata":{"a":{"b":1,"b":2}}'),
    "with whitespace": b'{"rk": 1, "iss": "APIkey1", "exp" : 1, "exp" : 2}',
    "livekit video twice": _raw(
        livekit_payload(), ',"video":{"roomJoin":true,"room":"boardroom","roomAdmin":true}'
    ),
    "livekit nested room twice": to_json(livekit_payload()).replace(
        b'"room":"standup"', b'"room":"standup","room":"boardroom"'
    ),
}


@pytest.mark.parametrize("raw", PAYLOAD_DUPLICATES.values(), ids=PAYLOAD_DUPLICATES.keys())
def test_duplicate_payload_members_are_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, raw: bytes
) -> None:
    """Duplicate JSON names in the payload, at the top or nested (two ``exp``, two ``video``,
    two ``video.room``): a genuine signature over an ambiguous payload is still refused."""
    header = hs_header() if b'"rk"' in raw else hs_header(None)
    assert_rejected(verifier, forge(header, raw, key=hmac_key), "malformed")


@pytest.mark.parametrize("payload", [[], [native_payload()], "alice", 1, 1.5, None, True])
def test_non_object_payload_is_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, payload: Any
) -> None:
    """A payload that is a JSON array, string, number, null or boolean."""
    raw = to_json(payload)
    assert_rejected(verifier, forge(hs_header(), raw, key=hmac_key), "malformed")


@pytest.mark.parametrize("header", [b"[]", b'"HS256"', b"null", b"1", b""])
def test_non_object_header_is_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, header: bytes
) -> None:
    """A header that is not a JSON object (or empty)."""
    assert_rejected(verifier, forge(header, native_payload(), key=hmac_key), "malformed")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + to_json(native_payload()),  # BOM
        to_json(native_payload()).replace(b'"alice"', b'"al\xffce"'),  # invalid UTF-8
        to_json(native_payload()).replace(b'"alice"', b'"al\\ud800ce"'),  # lone surrogate
        to_json(native_payload()) + b" x",  # trailing garbage
        to_json(native_payload())[:-1],  # truncated
        to_json(native_payload()).replace(b'"alice"', b"'alice'"),  # single quotes
        to_json(native_payload())[:-1] + b",}",  # trailing comma
    ],
    ids=["bom", "bad-utf8", "lone-surrogate", "trailing", "truncated", "quotes", "comma"],
)
def test_non_strict_json_payload_is_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, raw: bytes
) -> None:
    """Lenient-JSON differentials: BOM, invalid UTF-8, lone surrogates, trailing data."""
    assert_rejected(verifier, forge(hs_header(), raw, key=hmac_key), "malformed")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_nan_and_infinite_times_are_malformed(
    verifier: TokenVerifier, hmac_key: HmacKey, number: str, claim: str
) -> None:
    """NaN/Infinity (not JSON at all) and 1e400 (overflows to infinity): a NaN ``exp``
    compares false with everything, so a lax check would never expire it."""
    raw = _raw(native_payload(**{claim: ...}), f',"{claim}":{number}')
    assert_rejected(verifier, forge(hs_header(), raw, key=hmac_key), "malformed")


# ---- size and depth ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["A" * 8193, "." * 9000, "é" * 8193, b"\xff" * 9000, "eyJ" + "A" * 100_000],
    ids=["base64", "dots", "non-ascii", "bytes", "huge"],
)
def test_oversized_token_is_refused_before_decoding(verifier: TokenVerifier, token: Any) -> None:
    """Resource exhaustion: anything over 8 KiB is refused on its length alone."""
    error = assert_rejected(verifier, token, "token_too_large")
    assert error.details["limit"] == 8192


def test_size_cap_is_exact(ring: KeyRing, hmac_key: HmacKey) -> None:
    """A genuine token of exactly ``max_bytes`` passes; one byte less of cap refuses it."""
    token = forge(hs_header(), native_payload(metadata="m" * 7000), key=hmac_key)
    assert len(token) > 8192
    assert_rejected(TokenVerifier(ring, now=lambda: NOW), token, "token_too_large")
    at_cap = TokenVerifier(ring, max_bytes=len(token), now=lambda: NOW)
    assert at_cap.verify(token).claims.metadata == "m" * 7000
    below = TokenVerifier(ring, max_bytes=len(token) - 1, now=lambda: NOW)
    assert_rejected(below, token, "token_too_large")


@pytest.mark.parametrize("depth", [16, 1000, 100_000])
@pytest.mark.parametrize("shape", ["[", '{"a":'])
@pytest.mark.parametrize("where", ["header", "payload"])
def test_deeply_nested_json_is_malformed_without_recursion_error(
    ring: KeyRing, hmac_key: HmacKey, depth: int, shape: str, where: str
) -> None:
    """Stack exhaustion: deeply nested arrays or objects are refused as malformed (never a
    ``RecursionError``), whatever the size cap lets through."""
    closing = "]" if shape == "[" else "}"
    nested = (shape * depth + closing * depth).encode()
    if where == "header":
        header: bytes | dict[str, Any] = _raw(hs_header(), ',"x":' + nested.decode())
        payload: Any = native_payload()
    else:
        header, payload = hs_header(), _raw(native_payload(), ',"metadata":' + nested.decode())
    verifier = TokenVerifier(ring, max_bytes=1 << 20, now=lambda: NOW)
    assert_rejected(verifier, forge(header, payload, key=hmac_key), "malformed")


# ---- fuzzing: nothing but a TokenError ever comes out --------------------------------------

_FUZZ_RING = KeyRing([HmacKey(API_KEY, SECRET)])
_FUZZ_VERIFIER = TokenVerifier(_FUZZ_RING, now=lambda: NOW)
_FUZZ_BASE = forge(hs_header(), native_payload(), key=HmacKey(API_KEY, SECRET))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input_only_ever_raises_token_errors(token: bytes | str) -> None:
    """Fuzz: arbitrary bytes or text never escape as anything but a ``TokenError``."""
    with pytest.raises(TokenError):
        _FUZZ_VERIFIER.verify(token)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(_FUZZ_BASE) - 1),
    st.sampled_from(ALPHABET + ".=+/ é"),
)
def test_one_character_mutations_of_a_genuine_token_are_refused(position: int, char: str) -> None:
    """Fuzz: any single-character change to a genuine token is refused with a TokenError
    (the only exception is replacing a character by itself)."""
    mutated = _FUZZ_BASE[:position] + char + _FUZZ_BASE[position + 1 :]
    if mutated == _FUZZ_BASE:
        assert _FUZZ_VERIFIER.verify(mutated).claims.identity == "alice"
        return
    with pytest.raises(TokenError):
        _FUZZ_VERIFIER.verify(mutated)
