"""VideoSDK's layout (version 2), field for field as its documentation gives it."""

from __future__ import annotations

from typing import Any

import pytest
from dialect_support import API_KEY, NOW, SECRET, make_claims, round_trip

from roomkey import jws
from roomkey.capabilities import CRAWLER_CAPABILITIES, Capability
from roomkey.claims import Claims
from roomkey.dialects import VIDEOSDK, detect_dialect
from roomkey.errors import (
    InvalidClaimsError,
    MissingClaimError,
    TokenNotYetValidError,
    UnsupportedByDialectError,
)
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source
from roomkey.keys import HmacKey, KeyRing
from roomkey.minting import TokenMinter
from roomkey.roles import PRESETS, Role
from roomkey.verifying import TokenVerifier


def _read(**payload: Any) -> Claims:
    return VIDEOSDK.from_wire({"apikey": API_KEY, "exp": NOW + 600, **payload}).claims


def test_to_wire_matches_the_documented_payload_field_for_field() -> None:
    claims = make_claims(room="2kyv-gzay-64pg", identity="lxvdplwt")
    assert VIDEOSDK.to_wire(claims) == {
        "apikey": API_KEY,
        "permissions": ["allow_join"],
        "version": 2,
        "roomId": "2kyv-gzay-64pg",
        "participantId": "lxvdplwt",
        "roles": ["rtc"],
        "iat": NOW,
        "exp": NOW + 900,
        "jti": "jti-0001",
    }


@pytest.mark.parametrize(
    ("grant", "permissions", "roles"),
    [
        (PRESETS[Role.HOST], ["allow_join", "allow_mod"], ["rtc"]),
        (Grant(join=JoinMode.ASK), ["ask_join"], ["rtc"]),
        (
            Grant(scope=frozenset({Scope.API}), capabilities=CRAWLER_CAPABILITIES),
            ["allow_join"],
            ["crawler"],
        ),
        (
            Grant(scope=frozenset(Scope), capabilities=CRAWLER_CAPABILITIES),
            ["allow_join"],
            ["rtc", "crawler"],
        ),
    ],
)
def test_grant_maps_to_permissions_and_roles(
    grant: Grant, permissions: list[str], roles: list[str]
) -> None:
    payload = VIDEOSDK.to_wire(make_claims(grant=grant))
    assert (payload["permissions"], payload["roles"]) == (permissions, roles)
    assert round_trip(VIDEOSDK, make_claims(grant=grant)) == make_claims(grant=grant)


def test_a_roleless_token_is_both_scopes_without_capabilities() -> None:
    # The seed's simplest token {apikey, permissions: [allow_join]}: valid for both scopes
    # (VideoSDK's meaning), yet it names no right on roomkey's API.
    for roles in (None, []):
        payload = _roleless(roles)
        grant = VIDEOSDK.from_wire(payload).claims.grant
        assert grant.scope == frozenset(Scope)
        assert grant.capabilities == frozenset()
    grant = Grant(scope=frozenset(Scope))
    assert "roles" not in VIDEOSDK.to_wire(make_claims(grant=grant))
    assert round_trip(VIDEOSDK, make_claims(grant=grant)) == make_claims(grant=grant)


def test_crawler_maps_to_the_v2_api_capabilities_never_keys_project_or_admin() -> None:
    grant = VIDEOSDK.from_wire(_roleless(["crawler"])).claims.grant
    assert grant.capabilities == CRAWLER_CAPABILITIES
    assert not {Capability.KEYS, Capability.PROJECT, Capability.ADMIN} & grant.capabilities


@pytest.mark.parametrize(
    "capabilities",
    [{Capability.KEYS}, {Capability.ADMIN}, {Capability.ROOMS_READ}],
)
def test_capabilities_other_than_the_crawler_set_are_refused(
    capabilities: set[Capability],
) -> None:
    grant = Grant(scope=frozenset({Scope.API}), capabilities=frozenset(capabilities))
    with pytest.raises(UnsupportedByDialectError) as info:
        VIDEOSDK.to_wire(make_claims(grant=grant))
    assert info.value.details["field"] == "capabilities"


def _roleless(roles: list[str] | None) -> dict[str, object]:
    payload: dict[str, object] = {"apikey": API_KEY, "permissions": ["allow_join"]}
    payload.update(iat=NOW, exp=NOW + 900)
    if roles is not None:
        payload["roles"] = roles
    return payload


def test_round_trip_drops_only_the_role() -> None:
    claims = make_claims(role="host", grant=PRESETS[Role.HOST], identity=None, room=None)
    assert round_trip(VIDEOSDK, claims) == claims.replace(role=None)


def test_a_later_not_before_is_written_as_nbf_not_dropped() -> None:
    claims = make_claims(not_before=NOW + 3600)
    payload = VIDEOSDK.to_wire(claims)
    assert payload["nbf"] == NOW + 3600
    assert round_trip(VIDEOSDK, claims) == claims
    key = HmacKey(API_KEY, SECRET)
    token = TokenMinter(key, "videosdk", now=lambda: NOW).mint(
        identity="alice", not_before=NOW + 3600
    )
    with pytest.raises(TokenNotYetValidError):
        TokenVerifier(KeyRing([key]), now=lambda: NOW).verify(token.token)


def test_missing_nbf_reads_as_issued_at() -> None:
    claims = _read(permissions=["allow_join"], iat=NOW - 5)
    assert claims.not_before == claims.issued_at == NOW - 5


GUEST = PRESETS[Role.GUEST]


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        (make_claims(grant=GUEST.replace(can_consume=False)), "can_consume"),
        (make_claims(grant=PRESETS[Role.LISTENER]), "can_produce"),
        (make_claims(grant=GUEST.replace(can_send_data=False)), "can_send_data"),
        (make_claims(grant=GUEST.replace(can_recv_data=False)), "can_recv_data"),
        (make_claims(grant=GUEST.replace(can_update_metadata=False)), "can_update_metadata"),
        (make_claims(grant=PRESETS[Role.SPEAKER]), "sources"),
        (make_claims(grant=Grant(moderate=True)), "moderate"),
        (make_claims(grant=Grant(hidden=True)), "hidden"),
        (make_claims(grant=Grant(recorder=True)), "recorder"),
        (make_claims(name="Alice"), "name"),
        (make_claims(metadata={"a": 1}), "metadata"),
        (make_claims(audience="x"), "audience"),
        (make_claims(kind="standard"), "kind"),
        (make_claims(room_config={}), "room_config"),
        (make_claims(attributes={"a": "b"}), "attributes"),
    ],
)
def test_inexpressible_fields_are_refused_not_dropped(claims: Claims, field: str) -> None:
    with pytest.raises(UnsupportedByDialectError, match="videosdk format cannot express"):
        VIDEOSDK.to_wire(claims)
    with pytest.raises(UnsupportedByDialectError) as info:
        VIDEOSDK.to_wire(claims)
    assert info.value.details == {"dialect": "videosdk", "field": field}


def test_reading_gives_every_medium_and_both_scopes_when_roles_are_absent() -> None:
    claims = _read(permissions=["allow_join"])
    assert claims.grant == Grant(scope=frozenset(Scope))
    assert claims.grant.sources == ALL_SOURCES
    assert claims.api_key == API_KEY


def test_reading_the_seed_payload() -> None:
    claims = _read(
        permissions=["allow_join"],
        version=2,
        roomId="2kyv-gzay-64pg",
        participantId="lxvdplwt",
        roles=["crawler", "rtc"],
    )
    assert (claims.room, claims.identity) == ("2kyv-gzay-64pg", "lxvdplwt")
    assert claims.grant.scope == {Scope.ROOM, Scope.API}
    assert not claims.grant.moderate


def test_allow_mod_gives_admin_and_ask_join_gives_the_lobby() -> None:
    assert _read(permissions=["allow_mod"]).grant.admin
    assert _read(permissions=["allow_join", "allow_mod"]).grant.moderate
    assert _read(permissions=["ask_join"]).grant.join is JoinMode.ASK


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        ({}, MissingClaimError, "'permissions' is required"),
        ({"permissions": "allow_join"}, InvalidClaimsError, "list of strings"),
        ({"permissions": ["ask_join", "allow_join"]}, InvalidClaimsError, "ask_join with"),
        ({"permissions": ["ask_join", "allow_mod"]}, InvalidClaimsError, "ask_join with"),
        ({"permissions": []}, InvalidClaimsError, "no way to join"),
        ({"permissions": ["allow_everything"]}, InvalidClaimsError, "no way to join"),
        ({"permissions": ["allow_join"], "version": 1}, InvalidClaimsError, "must be 2"),
        ({"permissions": ["allow_join"], "roles": ["admin"]}, InvalidClaimsError, "neither"),
        ({"permissions": ["allow_join"], "roomId": 7}, InvalidClaimsError, "roomId"),
    ],
)
def test_bad_payloads_are_refused(payload: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _read(**payload)


def test_apikey_is_required() -> None:
    with pytest.raises(MissingClaimError, match="'apikey'"):
        VIDEOSDK.from_wire({"permissions": ["allow_join"]})


def test_unknown_permissions_roles_and_keys_are_reported() -> None:
    read = VIDEOSDK.from_wire(
        {
            "apikey": API_KEY,
            "permissions": ["allow_join", "allow_record"],
            "roles": ["rtc", "viewer"],
            "meetingId": "x",
        }
    )
    assert read.unknown_keys == ("meetingId", "permissions['allow_record']", "roles['viewer']")
    assert read.claims.grant.scope == {Scope.ROOM}


def test_detection_by_apikey() -> None:
    assert detect_dialect({"apikey": API_KEY, "iss": "x"}) is VIDEOSDK
    assert VIDEOSDK.issuer({"apikey": API_KEY}) == API_KEY
    assert VIDEOSDK.issuer({"apikey": 1}) is None


def test_minted_token_has_no_kid_and_verifies() -> None:
    key = HmacKey(API_KEY, SECRET)
    minted = TokenMinter(key, "videosdk", now=lambda: NOW).mint(
        identity="lxvdplwt", room="2kyv-gzay-64pg", role=Role.HOST
    )
    assert jws.parse(minted.token).header == {"alg": "HS256", "typ": "JWT"}
    verified = TokenVerifier(KeyRing([key]), now=lambda: NOW).verify(
        minted.token, room="2kyv-gzay-64pg", identity="lxvdplwt"
    )
    assert verified.claims == minted.claims.replace(role=None)
    assert verified.grant.sources == {Source.CAM, Source.MIC, Source.SCREEN, Source.SCREEN_AUDIO}
