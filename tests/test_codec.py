"""The strict decoders: canonical base64url and strict JSON (fast path and exact path)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roomkey._codec import (
    MAX_JSON_DEPTH,
    _b64url_decode_exact,
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_loads_object,
    nested_deeper_than,
)
from roomkey.errors import MalformedTokenError

# ---- base64url -----------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_b64url_round_trips_and_is_unpadded(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert b"=" not in encoded
    assert b64url_decode(encoded, "part") == data


@given(st.binary(min_size=1, max_size=64))
def test_b64url_refuses_every_non_canonical_spelling(data: bytes) -> None:
    """Re-encoding a decoded part gives the same text, so a part has exactly one spelling."""
    encoded = b64url_encode(data)
    rem = len(encoded) % 4
    if rem:
        spare = 0x0F if rem == 2 else 0x03
        alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(encoded[-1:])
        for bits in range(1, spare + 1):
            dirty = encoded[:-1] + alphabet[last | bits : (last | bits) + 1]
            if dirty != encoded:
                with pytest.raises(MalformedTokenError, match="not canonical"):
                    b64url_decode(dirty, "part")
        with pytest.raises(MalformedTokenError):
            b64url_decode(encoded + b"=" * (4 - rem), "part")


def test_b64url_empty_part_decodes_to_nothing() -> None:
    assert b64url_decode(b"", "part") == b""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"YQ==", "not base64url"),
        (b"YQ=", "not base64url"),
        (b"a+b/", "not base64url"),
        (b"YW Jj", "not base64url"),
        (b"YWJj\n", "not base64url"),
        (b"YW\tJj", "not base64url"),
        (b"YWJj\xc3\xa9", "not base64url"),
        (b"A", "impossible"),
        (b"AAAAA", "impossible"),
        (b"YR", "not canonical"),
        (b"YWF", "not canonical"),
    ],
)
def test_b64url_refusals_say_why(text: bytes, reason: str) -> None:
    with pytest.raises(MalformedTokenError, match=reason) as info:
        b64url_decode(text, "header")
    assert info.value.code == "malformed"
    assert info.value.message.startswith("header ")


def test_b64url_accepts_what_standard_decoders_write_without_padding() -> None:
    data = bytes(range(256))
    text = base64.urlsafe_b64encode(data).rstrip(b"=")
    assert b64url_decode(text, "part") == data


def _outcome(decode: Callable[[bytes, str], bytes], text: bytes) -> bytes | str:
    try:
        return decode(text, "part")
    except MalformedTokenError as exc:
        return exc.message


# Text near base64url: its alphabet, the characters of standard base64 and padding, the
# poisoned translation's '!', whitespace and a non-ASCII byte; any length, so every remainder.
_NEAR_B64URL = st.binary(max_size=40) | st.lists(
    st.sampled_from(list(b"AQgw_-+/=! \n\xc3") + list(b"ABCxyz0189")), max_size=40
).map(bytes)


@given(_NEAR_B64URL)
def test_b64url_fast_path_answers_exactly_as_the_exact_checks(text: bytes) -> None:
    """The one-translate fast path accepts, decodes and refuses (same message) as the reference."""
    assert _outcome(b64url_decode, text) == _outcome(_b64url_decode_exact, text)


@given(st.binary(max_size=64))
def test_b64url_fast_path_agrees_on_every_encoded_text(data: bytes) -> None:
    encoded = b64url_encode(data)
    for text in (encoded, encoded + b"=", encoded.replace(b"-", b"+"), encoded + b"A"):
        assert _outcome(b64url_decode, text) == _outcome(_b64url_decode_exact, text)


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=48), st.data())
def test_b64url_fast_path_refuses_any_one_foreign_character_as_the_exact_checks(
    data: bytes, draw: st.DataObject
) -> None:
    """The lenient decoder skips a foreign character: its shorter output must send the text to
    the exact checks, whatever the character and wherever it stands (replaced or inserted)."""
    encoded = b64url_encode(data)
    at = draw.draw(st.integers(0, len(encoded) - 1))
    bad = draw.draw(st.sampled_from(list(b"+/=! \n\t.*\x00\x80\xff")))
    for text in (
        encoded[:at] + bytes([bad]) + encoded[at + 1 :],
        encoded[:at] + bytes([bad]) + encoded[at:],
    ):
        assert _outcome(b64url_decode, text) == _outcome(_b64url_decode_exact, text)


def test_b64url_fast_path_refuses_every_foreign_byte_at_every_place() -> None:
    """Exhaustive over one short text of each accepted remainder: every byte outside the
    alphabet, replacing or inserted at every position, gets the exact checks' answer."""
    foreign = [
        c
        for c in range(256)
        if c not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    ]
    for data in (b"abc", b"abcd", b"abcde"):  # remainders 0, 2 and 3
        encoded = b64url_encode(data)
        for at in range(len(encoded) + 1):
            for c in foreign:
                for text in (
                    encoded[:at] + bytes([c]) + encoded[at + 1 :],
                    encoded[:at] + bytes([c]) + encoded[at:],
                ):
                    assert _outcome(b64url_decode, text) == _outcome(_b64url_decode_exact, text)


# ---- JSON ----------------------------------------------------------------------------------


def test_json_dumps_is_compact() -> None:
    assert json_dumps({"a": [1, 2], "b": "c"}) == b'{"a":[1,2],"b":"c"}'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":2}',  # fast path text would differ: exact path finds it
        b'{"a": 1, "a": 1}',  # whitespace: exact path
        b'{"a":1,"b":2,"a":1}',
        b'{"x":{"a":1,"a":2}}',  # nested
        b'{"x":[{"a":1},{"b":1,"b":1}]}',  # inside a list
        b'{"a":1,"\\u0061":2}',  # the same name, escaped
        b'{"\\u00e9":1,"\xc3\xa9":2}',  # the same non-ASCII name, escaped and raw
    ],
)
def test_duplicate_names_are_refused_on_every_path(raw: bytes) -> None:
    with pytest.raises(MalformedTokenError, match="duplicate"):
        json_loads_object(raw, "payload")


def test_fast_path_accepts_compact_text_and_exact_path_accepts_the_rest() -> None:
    assert json_loads_object(b'{"a":1,"b":[true,null]}', "p") == {"a": 1, "b": [True, None]}
    assert json_loads_object(b'{ "a" : 1 ,\n "b" : [ true , null ] }', "p") == {
        "a": 1,
        "b": [True, None],
    }
    assert json_loads_object(b'{"a":1.0,"b":-0,"c":"\\u00e9"}', "p") == {"a": 1.0, "b": 0, "c": "é"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b'{"a":"\\ud800"}',
        b"{'a':1}",
        b'{"a":1,}',
        b'{"a":1} x',
        b'{"a":1',
        b"",
    ],
)
def test_non_strict_json_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedTokenError):
        json_loads_object(raw, "payload")


@pytest.mark.parametrize("raw", [b"[]", b'"s"', b"1", b"null", b"true", b"[{}]"])
def test_non_objects_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedTokenError, match="must be a JSON object"):
        json_loads_object(raw, "payload")


def _nested(levels: int, opener: str = "[") -> bytes:
    """An object whose member nests ``levels`` in total, counting the object itself."""
    closer = "]" if opener == "[" else "}"
    inner = levels - 1
    if opener == "{":
        return ('{"a":' * levels + "1" + "}" * levels).encode()
    return ('{"a":' + opener * inner + closer * inner + "}").encode()


@pytest.mark.parametrize("opener", ["[", "{"])
def test_depth_limit_is_exact(opener: str) -> None:
    at_limit = _nested(MAX_JSON_DEPTH, opener)
    assert isinstance(json_loads_object(at_limit, "payload"), dict)
    with pytest.raises(MalformedTokenError, match="nested deeper"):
        json_loads_object(_nested(MAX_JSON_DEPTH + 1, opener), "payload")


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_very_deep_nesting_is_malformed_not_a_recursion_error(levels: int) -> None:
    with pytest.raises(MalformedTokenError):
        json_loads_object(_nested(levels), "payload")


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    raw = json.dumps({"a": "[" * 100 + "{" * 100}, separators=(",", ":")).encode()
    assert json_loads_object(raw, "payload") == {"a": "[" * 100 + "{" * 100}


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_strict_json_accepts_what_json_writes(value: dict[str, object]) -> None:
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    spaced = json.dumps(value, indent=2).encode()
    assert json_loads_object(compact, "p") == value
    assert json_loads_object(spaced, "p") == value


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("[[", 0), ([], 1), ({}, 1), ({"a": [1, {"b": []}], "c": {}}, 4), ((((),),), 3)],
)
def test_nested_deeper_than_counts_objects_and_arrays(value: object, depth: int) -> None:
    assert not nested_deeper_than(value, depth)
    assert depth == 0 or nested_deeper_than(value, depth - 1)


def test_nested_deeper_than_is_iterative() -> None:
    value: list[object] = []
    for _ in range(100_000):
        value = [value]
    assert nested_deeper_than(value, MAX_JSON_DEPTH)
