"""roomkey's own layout: every canonical field, nothing implicit."""

from __future__ import annotations

from typing import Any

import pytest
from dialect_support import API_KEY, NOW, SECRET, make_claims, round_trip

from roomkey import jws
from roomkey.dialects import DIALECTS, NATIVE, detect_dialect
from roomkey.errors import InvalidClaimsError, MissingClaimError
from roomkey.grants import Grant, JoinMode, Scope, Source
from roomkey.keys import HmacKey, KeyRing
from roomkey.minting import TokenMinter
from roomkey.roles import PRESETS, Role
from roomkey.verifying import TokenVerifier

FULL = make_claims(
    role="speaker",
    name="Alice",
    metadata={"seat": 3, "tags": ["a", "b"]},
    attributes={"team": "blue"},
    audience="media-eu",
    kind="standard",
    room_config={"maxParticipants": 10},
    grant=PRESETS[Role.SPEAKER],
)


def _payload(**changes: Any) -> dict[str, Any]:
    return {**NATIVE.to_wire(make_claims()), **changes}


def test_to_wire_writes_every_field_in_the_documented_layout() -> None:
    assert NATIVE.to_wire(FULL) == {
        "rk": 1,
        "iss": API_KEY,
        "sub": "alice",
        "aud": "media-eu",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "jti-0001",
        "room": "standup",
        "role": "speaker",
        "name": "Alice",
        "metadata": {"seat": 3, "tags": ["a", "b"]},
        "kind": "standard",
        "room_config": {"maxParticipants": 10},
        "attributes": {"team": "blue"},
        "grant": {
            "admin": False,
            "can_consume": True,
            "can_produce": True,
            "sources": ["mic"],
            "can_send_data": True,
            "can_recv_data": True,
            "can_update_metadata": True,
            "join": "direct",
            "moderate": False,
            "hidden": False,
            "recorder": False,
            "scope": ["room"],
            "capabilities": [],
        },
    }


def test_absent_optional_fields_are_not_written() -> None:
    payload = NATIVE.to_wire(make_claims(identity=None, room=None, jti=None))
    assert set(payload) == {"rk", "iss", "iat", "nbf", "exp", "grant"}


@pytest.mark.parametrize(
    "claims",
    [
        FULL,
        make_claims(),
        make_claims(grant=Grant(join=JoinMode.ASK, hidden=True, recorder=True)),
        make_claims(grant=Grant(moderate=True, scope=frozenset(Scope))),
        make_claims(grant=PRESETS[Role.BOT], metadata="plain text", identity=None),
        make_claims(metadata=[1, 2.5, None, True], attributes={"a": "", "b": "é"}),
    ],
)
def test_every_field_round_trips(claims: Any) -> None:
    assert round_trip(NATIVE, claims) == claims


def test_matches_on_the_version_marker_only() -> None:
    assert NATIVE.matches({"rk": 1})
    assert not NATIVE.matches({"iss": API_KEY, "grant": {}})
    assert detect_dialect(_payload()) is NATIVE


@pytest.mark.parametrize("version", [0, 2, "1", None, True, False, 1.5, [1]])
def test_the_version_error_names_the_value_read(version: object) -> None:
    with pytest.raises(InvalidClaimsError) as caught:
        NATIVE.from_wire(_payload(rk=version))
    assert caught.value.message == f"unsupported native version {version!r}"
    assert caught.value.details == {"claim": "rk"}


def test_version_one_written_as_a_float_is_read_as_before() -> None:
    """1.0 == 1 and is not a bool: accepted, as the version test always did."""
    assert NATIVE.from_wire(_payload(rk=1.0)).claims == NATIVE.from_wire(_payload()).claims


@pytest.mark.parametrize("claims", [make_claims(), FULL])
def test_the_fast_reader_builds_whole_named_tuples(claims: Any) -> None:
    """The fast path builds its tuples without _make's length check: each must be complete."""
    read = NATIVE.from_wire(NATIVE.to_wire(claims))
    assert type(read).__name__ == "WireRead" and read.unknown_keys == ()
    assert type(read.claims) is type(claims) and len(read.claims) == len(claims._fields)
    assert read.claims == claims
    assert read.claims._asdict() == claims._asdict()


@pytest.mark.parametrize("version", [0, 2, "1", None, True])
def test_other_versions_are_refused(version: object) -> None:
    with pytest.raises(InvalidClaimsError, match="unsupported native version"):
        NATIVE.from_wire(_payload(rk=version))


def test_grant_is_required_and_complete() -> None:
    payload = _payload()
    del payload["grant"]
    with pytest.raises(MissingClaimError, match="'grant' is required"):
        NATIVE.from_wire(payload)
    partial = _payload()
    del partial["grant"]["hidden"]
    with pytest.raises(MissingClaimError, match="'hidden' is required") as info:
        NATIVE.from_wire(partial)
    assert info.value.details["claim"] == "grant.hidden"


def test_issuer_is_required() -> None:
    payload = _payload()
    del payload["iss"]
    with pytest.raises(MissingClaimError, match="'iss'"):
        NATIVE.from_wire(payload)


@pytest.mark.parametrize(
    ("grant_changes", "message"),
    [
        ({"admin": "yes"}, "must be true or false"),
        ({"can_produce": False}, "inconsistent"),
        ({"sources": []}, "inconsistent"),
        ({"sources": ["cam", "hologram"]}, "inconsistent: unknown source"),
        ({"join": "ask", "moderate": True}, "inconsistent"),
        ({"scope": []}, "inconsistent"),
        ({"join": "later"}, "inconsistent: unknown join mode"),
        ({"sources": "cam"}, "list of strings"),
    ],
)
def test_a_bad_or_inconsistent_grant_is_refused(
    grant_changes: dict[str, Any], message: str
) -> None:
    payload = _payload()
    payload["grant"] = {**payload["grant"], **grant_changes}
    with pytest.raises(InvalidClaimsError, match=message):
        NATIVE.from_wire(payload)


@pytest.mark.parametrize(
    ("changes", "claim"),
    [
        ({"exp": "1795000900"}, "exp"),
        ({"exp": True}, "exp"),
        ({"nbf": None}, "nbf"),
        ({"iat": 2**60}, "iat"),
        ({"sub": 42}, "sub"),
        ({"attributes": {"a": 1}}, "attributes"),
        ({"room_config": []}, "room_config"),
    ],
)
def test_badly_typed_claims_are_refused_naming_the_claim(
    changes: dict[str, Any], claim: str
) -> None:
    with pytest.raises(InvalidClaimsError) as info:
        NATIVE.from_wire(_payload(**changes))
    assert info.value.details["claim"] == claim


def test_fractional_times_are_floored() -> None:
    claims = NATIVE.from_wire(_payload(exp=NOW + 900.9)).claims
    assert claims.expires_at == NOW + 900


def test_unknown_keys_are_reported_with_their_path() -> None:
    payload = _payload(roomName="x")
    payload["grant"]["canPublish"] = True
    assert NATIVE.from_wire(payload).unknown_keys == ("roomName", "grant.canPublish")


def test_capabilities_is_a_known_grant_key() -> None:
    payload = _payload()
    payload["grant"].update(scope=["api"], capabilities=["rooms:read"])
    read = NATIVE.from_wire(payload)
    assert read.unknown_keys == ()
    assert read.claims.grant.capabilities == {"rooms:read"}


def test_only_the_native_format_refuses_unknown_claims() -> None:
    assert {d.name: d.refuses_unknown_claims for d in DIALECTS.values()} == {
        "native": True,
        "livekit": False,
        "videosdk": False,
        "huddle01": False,
    }


def test_minted_token_carries_kid_and_verifies_to_the_same_claims() -> None:
    key = HmacKey(API_KEY, SECRET)
    minted = TokenMinter(key, "native", now=lambda: NOW).mint(
        identity="alice", room="standup", role=Role.SPEAKER, permissions={"sources": {"cam": True}}
    )
    parsed = jws.parse(minted.token)
    assert parsed.header == {"alg": "HS256", "typ": "JWT", "kid": API_KEY}
    assert parsed.payload["grant"]["sources"] == ["cam", "mic"]
    verified = TokenVerifier(KeyRing([key]), now=lambda: NOW).verify(minted.token, room="standup")
    assert verified.dialect == "native"
    assert verified.claims == minted.claims
    assert verified.grant.sources == {Source.CAM, Source.MIC}
