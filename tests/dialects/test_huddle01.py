"""Huddle01's peer-token layout: an asymmetric signature and a ``permissions`` object."""

from __future__ import annotations

from typing import Any

import pytest
from dialect_support import API_KEY, NOW, SECRET, make_claims, round_trip

from roomkey import jws
from roomkey.claims import Claims
from roomkey.dialects import HUDDLE01, detect_dialect
from roomkey.errors import (
    ConfigurationError,
    DisallowedAlgorithmError,
    InvalidClaimsError,
    MissingClaimError,
    UnsupportedByDialectError,
)
from roomkey.grants import Grant, JoinMode, Scope, Source
from roomkey.keys import HmacKey, KeyRing, generate_key
from roomkey.minting import TokenMinter
from roomkey.roles import DENY_ALL, PRESETS, Role
from roomkey.verifying import TokenVerifier

GUEST_PERMISSIONS = {
    "admin": False,
    "canConsume": True,
    "canProduce": True,
    "canProduceSources": {"cam": True, "mic": True, "screen": True},
    "canSendData": True,
    "canRecvData": True,
    "canUpdateMetadata": True,
}


def _read(**payload: Any) -> Claims:
    return HUDDLE01.from_wire({"iss": API_KEY, "peerId": "alice", **payload}).claims


def test_to_wire_writes_the_permissions_object() -> None:
    claims = make_claims(role="guest", name="Alice", metadata={"seat": 3})
    assert HUDDLE01.to_wire(claims) == {
        "iss": API_KEY,
        "roomId": "standup",
        "peerId": "alice",
        "role": "guest",
        "permissions": GUEST_PERMISSIONS,
        "displayName": "Alice",
        "metadata": {"seat": 3},
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "jti-0001",
    }


@pytest.mark.parametrize(
    ("role", "changes"),
    [
        (Role.HOST, {"admin": True}),
        (Role.SPEAKER, {"canProduceSources": {"cam": False, "mic": True, "screen": False}}),
        (
            Role.LISTENER,
            {
                "canProduce": False,
                "canProduceSources": {"cam": False, "mic": False, "screen": False},
            },
        ),
        (
            Role.BOT,
            {
                "canProduce": False,
                "canProduceSources": {"cam": False, "mic": False, "screen": False},
                "canSendData": False,
                "canRecvData": False,
                "canUpdateMetadata": False,
            },
        ),
    ],
)
def test_presets_map_to_permissions_and_round_trip(role: Role, changes: dict[str, Any]) -> None:
    claims = make_claims(role=role.value, grant=PRESETS[role])
    assert HUDDLE01.to_wire(claims)["permissions"] == {**GUEST_PERMISSIONS, **changes}
    assert round_trip(HUDDLE01, claims) == claims


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        (make_claims(grant=Grant(sources=frozenset({Source.SCREEN}))), "sources"),
        (make_claims(grant=Grant(sources=frozenset({Source.SCREEN_AUDIO}))), "sources"),
        (make_claims(grant=Grant(moderate=True)), "moderate"),
        (make_claims(grant=Grant(join=JoinMode.ASK)), "join"),
        (make_claims(grant=Grant(scope=frozenset(Scope))), "scope"),
        (make_claims(grant=Grant(hidden=True)), "hidden"),
        (make_claims(grant=Grant(recorder=True)), "recorder"),
        (make_claims(audience="x"), "audience"),
        (make_claims(kind="standard"), "kind"),
        (make_claims(room_config={}), "room_config"),
        (make_claims(attributes={"a": "b"}), "attributes"),
    ],
)
def test_inexpressible_fields_are_refused_not_dropped(claims: Claims, field: str) -> None:
    with pytest.raises(UnsupportedByDialectError, match="huddle01 format cannot express") as info:
        HUDDLE01.to_wire(claims)
    assert info.value.details["field"] == field  # the canonical name, whatever the message says


def test_permissions_missing_from_the_token_come_from_the_role_merged_deeply() -> None:
    grant = _read(role="speaker", permissions={"canProduceSources": {"screen": True}}).grant
    assert grant.sources == {Source.MIC, Source.SCREEN, Source.SCREEN_AUDIO}
    assert grant.can_consume and not grant.admin
    assert _read(role="host").grant == PRESETS[Role.HOST]
    assert _read(role="co-host").grant == PRESETS[Role.CO_HOST]


def test_an_unknown_or_absent_role_starts_from_nothing() -> None:
    assert _read().grant == DENY_ALL
    assert _read(role="superstar").grant == DENY_ALL
    grant = _read(role="superstar", permissions={"canConsume": True}).grant
    assert grant == DENY_ALL.replace(can_consume=True)


def test_producing_with_every_source_off_reads_as_not_producing() -> None:
    grant = _read(
        role="guest",
        permissions={"canProduce": True, "canProduceSources": {"cam": False, "mic": False}},
    ).grant
    assert grant.sources == {Source.SCREEN, Source.SCREEN_AUDIO}
    grant = _read(
        role="guest",
        permissions={"canProduceSources": {"cam": False, "mic": False, "screen": False}},
    ).grant
    assert (grant.can_produce, grant.sources) == (False, frozenset())


@pytest.mark.parametrize(
    "permissions",
    [
        {"canProduceSources": ["cam"]},
        {"canProduceSources": {"cam": "yes"}},
        {"admin": 1},
        "all",
    ],
)
def test_badly_typed_permissions_are_refused(permissions: Any) -> None:
    with pytest.raises(InvalidClaimsError):
        _read(role="guest", permissions=permissions)


def test_issuer_is_required() -> None:
    with pytest.raises(MissingClaimError, match="'iss'"):
        HUDDLE01.from_wire({"peerId": "alice", "permissions": {}})


def test_unknown_keys_are_reported_with_their_path() -> None:
    read = HUDDLE01.from_wire(
        {
            "iss": API_KEY,
            "peerId": "alice",
            "roomID": "x",
            "permissions": {"canRecord": True, "canProduceSources": {"camera": True}},
        }
    )
    assert read.unknown_keys == (
        "roomID",
        "permissions.canRecord",
        "permissions.canProduceSources.camera",
    )


def test_detection_by_peer_id_or_permissions_object() -> None:
    assert detect_dialect({"iss": API_KEY, "peerId": "alice"}) is HUDDLE01
    assert detect_dialect({"iss": API_KEY, "permissions": {}}) is HUDDLE01
    assert not HUDDLE01.matches({"iss": API_KEY, "permissions": ["allow_join"]})


def test_an_hmac_secret_cannot_mint_huddle01_tokens() -> None:
    with pytest.raises(ConfigurationError, match="asymmetric"):
        TokenMinter(HmacKey(API_KEY, SECRET), "huddle01")


def test_an_hmac_signed_huddle01_token_does_not_verify() -> None:
    key = HmacKey(API_KEY, SECRET)
    claims = make_claims(role="host")
    token = jws.encode(HUDDLE01.to_wire(claims), key)
    with pytest.raises(DisallowedAlgorithmError):
        TokenVerifier(KeyRing([key]), now=lambda: NOW).verify(token, room="standup")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_minted_token_carries_kid_and_verifies_against_the_published_jwks(alg: str) -> None:
    key = generate_key(alg)
    minted = TokenMinter(key, "huddle01", api_key=API_KEY, now=lambda: NOW).mint(
        identity="alice", room="standup", role="speaker"
    )
    assert jws.parse(minted.token).header == {"alg": alg, "typ": "JWT", "kid": key.kid}
    clients = KeyRing()
    clients.add_jwks(KeyRing([key]).jwks())
    verified = TokenVerifier(clients, now=lambda: NOW).verify(minted.token, room="standup")
    assert verified.claims == minted.claims
    assert verified.grant.sources == {Source.MIC}
