"""Claims: the format-independent token content and the checks on each field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roomkey._codec import MAX_JSON_DEPTH
from roomkey.claims import (
    MAX_CLAIM_DEPTH,
    MAX_METADATA_CHARS,
    MAX_TEXT,
    Claims,
    check_attributes,
    check_metadata,
    check_nesting,
    check_text,
    new_jti,
    text_length,
)
from roomkey.errors import InvalidClaimValueError, MetadataTooLargeError, NestedTooDeepError
from roomkey.grants import Grant

NOW = 1_795_000_000


def _claims(**changes: Any) -> Claims:
    base = Claims(
        api_key="APIkey1",
        identity="alice",
        room="standup",
        grant=Grant(),
        issued_at=NOW,
        not_before=NOW,
        expires_at=NOW + 900,
        jti="jti-1",
    )
    return base.replace(**changes)


def test_claims_are_frozen_and_replace_makes_a_copy() -> None:
    claims = _claims()
    with pytest.raises(AttributeError):
        claims.room = "other"  # type: ignore[misc]
    moved = claims.replace(room="boardroom")
    assert moved.room == "boardroom" and claims.room == "standup"


def test_to_dict_is_json_ready_and_omits_absent_extras() -> None:
    data = _claims(metadata={"a": 1}, attributes={"k": "v"}).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["grant"] == Grant().to_dict()
    assert data["attributes"] == {"k": "v"} and data["metadata"] == {"a": 1}
    assert "audience" not in data and "kind" not in data and "room_config" not in data
    full = _claims(audience="media", kind="agent", room_config={"max": 2}).to_dict()
    assert (full["audience"], full["kind"], full["room_config"]) == ("media", "agent", {"max": 2})


def test_defaults() -> None:
    claims = _claims()
    assert claims.attributes == {} and claims.metadata is None and claims.role is None


@pytest.mark.parametrize("value", [None, ""])
def test_check_text_absent(value: Any) -> None:
    assert check_text(value, "room") is None
    with pytest.raises(InvalidClaimValueError, match="room is required"):
        check_text(value, "room", required=True)


def test_check_text_limits() -> None:
    assert check_text("x" * MAX_TEXT, "room") == "x" * MAX_TEXT
    assert check_text("ünïcødé room", "room") == "ünïcødé room"
    with pytest.raises(InvalidClaimValueError, match="longer than"):
        check_text("x" * (MAX_TEXT + 1), "room")


@pytest.mark.parametrize("value", [1, 1.5, True, ["a"], {"a": 1}, b"bytes"])
def test_check_text_refuses_non_strings(value: Any) -> None:
    with pytest.raises(InvalidClaimValueError, match="must be a string") as info:
        check_text(value, "identity")
    assert info.value.details == {"field": "identity"}


@pytest.mark.parametrize("value", ["a\nb", "a\tb", "\x00", "a\u202eb", "a\x1b[31m"])
def test_check_text_refuses_control_characters(value: str) -> None:
    with pytest.raises(InvalidClaimValueError, match="control characters"):
        check_text(value, "identity")


def test_check_metadata_boundary() -> None:
    assert check_metadata(None) is None
    at_cap = "x" * MAX_METADATA_CHARS  # a string counts its own characters, no quotes
    assert check_metadata(at_cap) == at_cap
    with pytest.raises(MetadataTooLargeError) as info:
        check_metadata(at_cap + "x")
    assert info.value.details == {"field": "metadata", "size": 5121, "limit": 5120}
    assert check_metadata("é" * 22, max_chars=22) == "é" * 22  # characters, not bytes
    with pytest.raises(MetadataTooLargeError):
        check_metadata("é" * 23, max_chars=22)


def test_other_json_counts_its_compact_json_text() -> None:
    value = {"k": "é" * 10}  # {"k":"éééééééééé"}: 18 characters, 28 bytes
    assert text_length(value) == 18
    assert check_metadata(value, max_chars=18) == value
    with pytest.raises(MetadataTooLargeError):
        check_metadata(value, max_chars=17)
    assert text_length([1, True, None]) == len("[1,true,null]")


def test_metadata_with_a_lone_surrogate_is_not_json() -> None:
    with pytest.raises(InvalidClaimValueError, match="lone surrogates"):
        check_metadata("a\ud800")


@pytest.mark.parametrize("value", [0, False, "", [], {}, {"a": [1, None, True, 1.5]}])
def test_check_metadata_keeps_any_json(value: Any) -> None:
    assert check_metadata(value) == value


@pytest.mark.parametrize("value", [object(), {1, 2}, b"x", {"a": object()}])
def test_check_metadata_refuses_non_json(value: Any) -> None:
    with pytest.raises(InvalidClaimValueError, match="metadata must be JSON") as info:
        check_metadata(value)
    assert info.value.details == {"field": "metadata"}


def _nested(levels: int) -> Any:
    value: Any = 0
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_a_claim_nests_one_level_less_than_the_payload_that_carries_it() -> None:
    """The verifier bounds the payload object; a claim inside it has one level less."""
    assert MAX_CLAIM_DEPTH == MAX_JSON_DEPTH - 1
    deepest = _nested(MAX_CLAIM_DEPTH)
    assert check_metadata(deepest) == deepest
    check_nesting(deepest, "room_config")
    with pytest.raises(NestedTooDeepError) as info:
        check_metadata([deepest])
    assert info.value.details == {"field": "metadata", "limit": MAX_CLAIM_DEPTH}
    assert isinstance(info.value, InvalidClaimValueError)


@pytest.mark.parametrize("levels", [1_000, 50_000])
def test_deep_metadata_is_refused_not_a_recursion_error(levels: int) -> None:
    with pytest.raises(NestedTooDeepError):
        check_metadata(_nested(levels))
    with pytest.raises(NestedTooDeepError):
        check_metadata(_nested_tuples(levels))  # tuples serialise as arrays


def _nested_tuples(levels: int) -> Any:
    value: Any = ()
    for _ in range(levels):
        value = (value,)
    return value


def test_check_attributes() -> None:
    assert check_attributes(None) == {}
    assert check_attributes({"a": "1", "b": ""}) == {"a": "1", "b": ""}
    result = check_attributes({"a": "1"})
    assert isinstance(result, dict)
    for bad in ({"a": 1}, {"a": None}, {2: "x"}, [("a", "b")], "a"):
        with pytest.raises(InvalidClaimValueError):
            check_attributes(bad)  # type: ignore[arg-type]
    with pytest.raises(MetadataTooLargeError):
        check_attributes({"k": "v" * MAX_METADATA_CHARS})


def test_new_jti_is_unique_and_url_safe() -> None:
    jtis = {new_jti() for _ in range(1000)} | {new_jti(1_800_000_000.0) for _ in range(1000)}
    assert len(jtis) == 2000  # unique even when the clock stands still
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(len(j) == 22 and set(j) <= alphabet for j in jtis)


def test_new_jti_sorts_by_time() -> None:
    # every millisecond step, including those that roll a character over ("z" -> "0" in
    # plain base64url would sort backwards)
    times = [1_700_000_000 + i / 1000 for i in range(0, 70_000, 7)] + [0.0, 2.0**47 / 1000]
    times.sort()
    jtis = [new_jti(t) for t in times]
    assert jtis == sorted(jtis)
    assert new_jti(5.0)[:8] == new_jti(5.0)[:8] != new_jti(5.001)[:8]  # 48 bits of time
