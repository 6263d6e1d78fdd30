"""Minting: defaults, limits and refusals of TokenMinter and the AccessToken builder."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from roomkey.claims import MAX_CLAIM_DEPTH, MAX_METADATA_CHARS
from roomkey.errors import (
    ConfigurationError,
    InvalidClaimValueError,
    InvalidGrantError,
    InvalidRoleError,
    MetadataTooLargeError,
    NestedTooDeepError,
    UnsupportedByDialectError,
    WeakKeyError,
)
from roomkey.grants import JoinMode, Scope, Source
from roomkey.keys import HmacKey, KeyRing, generate_key, load_pem_key
from roomkey.minting import DEFAULT_MAX_TTL_S, DEFAULT_TTL_S, AccessToken, TokenMinter
from roomkey.roles import PRESETS, CustomRole, Role
from roomkey.verifying import TokenVerifier

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000


@pytest.fixture
def key() -> HmacKey:
    return HmacKey(API_KEY, SECRET)


@pytest.fixture
def minter(key: HmacKey) -> TokenMinter:
    return TokenMinter(key, now=lambda: NOW)


@pytest.fixture
def verifier(key: HmacKey) -> TokenVerifier:
    return TokenVerifier(KeyRing([key]), now=lambda: NOW)


# ---- times ---------------------------------------------------------------------------------


def test_default_ttl_is_fifteen_minutes(minter: TokenMinter) -> None:
    claims = minter.mint(identity="alice", room="standup").claims
    assert DEFAULT_TTL_S == 900
    assert (claims.issued_at, claims.not_before, claims.expires_at) == (NOW, NOW, NOW + 900)


@pytest.mark.parametrize("ttl", [60, 60.9, timedelta(hours=2), DEFAULT_MAX_TTL_S])
def test_ttl_can_be_chosen_up_to_the_maximum(minter: TokenMinter, ttl: Any) -> None:
    claims = minter.mint(identity="alice", room="r", ttl=ttl).claims
    seconds = int(ttl.total_seconds()) if isinstance(ttl, timedelta) else int(ttl)
    assert claims.expires_at == NOW + seconds


def test_ttl_beyond_the_maximum_is_refused(key: HmacKey, minter: TokenMinter) -> None:
    with pytest.raises(InvalidClaimValueError, match="longer than the maximum") as info:
        minter.mint(identity="alice", room="r", ttl=DEFAULT_MAX_TTL_S + 1)
    assert info.value.details == {"field": "ttl"}
    short = TokenMinter(key, default_ttl_s=60, max_ttl_s=600, now=lambda: NOW)
    assert short.mint(identity="a", room="r").claims.expires_at == NOW + 60
    with pytest.raises(InvalidClaimValueError):
        short.mint(identity="a", room="r", ttl=timedelta(minutes=11))


@pytest.mark.parametrize("ttl", [0, -1, 0.5, True, "900"])
def test_nonsense_ttl_is_refused(minter: TokenMinter, ttl: Any) -> None:
    with pytest.raises(InvalidClaimValueError, match="ttl"):
        minter.mint(identity="alice", room="r", ttl=ttl)


def test_default_ttl_longer_than_maximum_is_a_configuration_error(key: HmacKey) -> None:
    with pytest.raises(ConfigurationError):
        TokenMinter(key, default_ttl_s=3600, max_ttl_s=600)


def test_not_before_can_be_set(minter: TokenMinter) -> None:
    claims = minter.mint(identity="alice", room="r", not_before=NOW + 30).claims
    assert claims.not_before == NOW + 30 and claims.issued_at == NOW


# ---- jti -----------------------------------------------------------------------------------


def test_jti_is_unique_across_ten_thousand_mints(key: HmacKey) -> None:
    minter = TokenMinter(key, now=lambda: NOW)  # the same second every time
    jtis = {minter.mint(identity="alice", room="r").claims.jti for _ in range(10_000)}
    assert len(jtis) == 10_000


def test_jti_is_random_not_derived_from_time_or_content(key: HmacKey) -> None:
    a = TokenMinter(key, now=lambda: NOW).mint(identity="alice", room="r").claims.jti
    b = TokenMinter(key, now=lambda: NOW).mint(identity="alice", room="r").claims.jti
    assert a is not None and b is not None and a != b
    assert len(a) >= 22  # 128 bits in base64url
    assert str(NOW) not in a


# ---- identity, text fields, metadata, attributes -------------------------------------------


def test_identity_is_required_for_room_tokens(minter: TokenMinter) -> None:
    for identity in (None, ""):
        with pytest.raises(InvalidClaimValueError, match="identity is required"):
            minter.mint(identity=identity, room="standup")


def test_api_tokens_need_no_identity(minter: TokenMinter, verifier: TokenVerifier) -> None:
    minted = minter.mint(permissions={"scope": ["api"]})
    grant = minted.claims.grant
    assert minted.claims.identity is None and minted.claims.role is None
    assert not (grant.can_consume or grant.can_produce or grant.can_send_data)  # no media rights
    assert verifier.verify(minted.token, scope="api").grant.scope == frozenset({Scope.API})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("identity", 42),
        ("identity", "a" * 257),
        ("identity", "alice\n"),
        ("room", ["standup"]),
        ("room", "r\x00"),
        ("name", "x" * 300),
        ("audience", 1),
    ],
)
def test_text_fields_are_checked(minter: TokenMinter, field: str, value: Any) -> None:
    fields: dict[str, Any] = {"identity": "alice", "room": "standup", field: value}
    with pytest.raises(InvalidClaimValueError) as info:
        minter.mint(**fields)
    assert info.value.details["field"] == field


def test_the_first_bad_field_in_claim_order_is_the_one_reported(minter: TokenMinter) -> None:
    fields: dict[str, Any] = {
        "identity": "alice",
        "room": "r\x00",
        "name": 1,
        "metadata": float("nan"),
        "attributes": {"a": 1},
        "audience": 2,
        "kind": 3,
    }
    for expected in ("room", "name", "metadata", "attributes", "audience", "kind"):
        with pytest.raises(InvalidClaimValueError) as info:
            minter.mint(**fields)
        assert info.value.details["field"] == expected
        del fields[expected]
    assert minter.mint(**fields).claims.identity == "alice"


def test_build_claims_gives_what_mint_signs(minter: TokenMinter) -> None:
    options: dict[str, Any] = {
        "identity": "alice",
        "room": "standup",
        "name": "Alice",
        "metadata": {"k": [1]},
        "attributes": {"a": "b"},
        "audience": "aud",
        "kind": "agent",
        "room_config": {"x": 1},
    }
    grant = PRESETS[Role.SPEAKER]
    built = minter.build_claims(grant=grant, role="speaker", ttl=60, not_before=NOW + 1, **options)
    minted = minter.mint(role=Role.SPEAKER, ttl=60, not_before=NOW + 1, **options).claims
    assert built._replace(jti=None) == minted._replace(jti=None)
    assert (built.issued_at, built.not_before, built.expires_at) == (NOW, NOW + 1, NOW + 60)
    bare = minter.build_claims(grant=grant, identity="alice")
    assert (bare.room, bare.name, bare.metadata, bare.attributes, bare.kind) == (
        None,
        None,
        None,
        {},
        None,
    )


def test_metadata_up_to_5120_characters_is_accepted(minter: TokenMinter) -> None:
    fits = "x" * MAX_METADATA_CHARS
    assert minter.mint(identity="a", room="r", metadata=fits).claims.metadata == fits
    nested = {"profile": {"tags": ["a", "b"], "score": 1.5, "ok": True, "none": None}}
    assert minter.mint(identity="a", room="r", metadata=nested).claims.metadata == nested


def test_metadata_over_5120_characters_is_refused_with_a_clear_error(
    minter: TokenMinter,
) -> None:
    with pytest.raises(MetadataTooLargeError) as info:
        minter.mint(identity="a", room="r", metadata="x" * (MAX_METADATA_CHARS + 1))
    assert info.value.code == "metadata_too_large"
    assert info.value.message == "metadata is 5121 characters; the limit is 5120"
    assert info.value.details == {"field": "metadata", "size": 5121, "limit": 5120}


@pytest.mark.parametrize("metadata", [object(), {1, 2}, b"bytes"])
def test_metadata_must_be_json(minter: TokenMinter, metadata: Any) -> None:
    with pytest.raises(InvalidClaimValueError, match="metadata must be JSON"):
        minter.mint(identity="a", room="r", metadata=metadata)


def test_attributes_are_a_string_map(minter: TokenMinter) -> None:
    attrs = {"team": "blue", "lang": "en"}
    assert minter.mint(identity="a", room="r", attributes=attrs).claims.attributes == attrs


@pytest.mark.parametrize(
    "attributes", [{"n": 1}, {"b": True}, {"x": None}, {1: "one"}, {"l": ["a"]}, ["a", "b"], "a=b"]
)
def test_attributes_other_than_str_to_str_are_refused(minter: TokenMinter, attributes: Any) -> None:
    with pytest.raises(InvalidClaimValueError, match="attribute") as info:
        minter.mint(identity="a", room="r", attributes=attributes)
    assert info.value.details["field"] == "attributes"


def test_attributes_are_capped_too(minter: TokenMinter) -> None:
    with pytest.raises(MetadataTooLargeError):
        minter.mint(identity="a", room="r", attributes={"k": "v" * MAX_METADATA_CHARS})


def test_room_config_must_be_an_object(minter: TokenMinter) -> None:
    with pytest.raises(InvalidClaimValueError, match="room_config"):
        minter.mint(identity="a", room="r", room_config=["x"])  # type: ignore[arg-type]


def _nested_object(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize("field", ["metadata", "room_config"])
def test_what_the_minter_signs_at_the_nesting_limit_verifies(
    minter: TokenMinter, verifier: TokenVerifier, field: str
) -> None:
    """One limit: the minter refuses what the verifier would, and signs what it accepts."""
    minted = minter.mint(identity="a", room="r", **{field: _nested_object(MAX_CLAIM_DEPTH)})
    assert verifier.verify(minted.token).claims == minted.claims
    with pytest.raises(NestedTooDeepError) as info:
        minter.mint(identity="a", room="r", **{field: _nested_object(MAX_CLAIM_DEPTH + 1)})
    assert info.value.details == {"field": field, "limit": MAX_CLAIM_DEPTH}


# ---- roles, permissions, dialects ----------------------------------------------------------


def test_role_and_overrides_merge_deeply(minter: TokenMinter) -> None:
    grant = minter.mint(
        identity="a", room="r", role=Role.SPEAKER, permissions={"sources": {"screen": True}}
    ).claims.grant
    assert grant.sources == frozenset({Source.MIC, Source.SCREEN})


def test_unknown_role_and_permission_are_refused_with_a_hint(minter: TokenMinter) -> None:
    with pytest.raises(InvalidRoleError, match="did you mean 'speaker'"):
        minter.mint(identity="a", room="r", role="speakr")
    with pytest.raises(InvalidGrantError, match="did you mean"):
        minter.mint(identity="a", room="r", permissions={"canPublsh": True})


def test_ask_join_with_moderation_is_refused(minter: TokenMinter) -> None:
    with pytest.raises(InvalidGrantError, match="join 'ask'"):
        minter.mint(identity="a", room="r", role=Role.HOST, permissions={"join": "ask"})


def test_inexpressible_grant_is_refused_by_the_dialect(key: HmacKey) -> None:
    livekit = TokenMinter(key, "livekit", now=lambda: NOW)
    with pytest.raises(UnsupportedByDialectError, match="lobby"):
        livekit.mint(identity="a", room="r", permissions={"join": "ask"})


def test_huddle01_needs_an_asymmetric_key(key: HmacKey) -> None:
    with pytest.raises(ConfigurationError, match="asymmetric"):
        TokenMinter(key, "huddle01")
    assert TokenMinter(generate_key("EdDSA"), "huddle01").dialect.name == "huddle01"


def test_a_public_only_key_cannot_mint() -> None:
    public = load_pem_key(generate_key("ES256").public_pem())
    with pytest.raises(ConfigurationError, match="cannot sign"):
        TokenMinter(public)


def test_unknown_dialect_is_a_configuration_error(key: HmacKey) -> None:
    with pytest.raises(ConfigurationError, match="unknown dialect"):
        TokenMinter(key, "jwt")


@pytest.mark.parametrize("dialect", ["native", "livekit", "videosdk"])
def test_minted_tokens_verify(key: HmacKey, verifier: TokenVerifier, dialect: str) -> None:
    minted = TokenMinter(key, dialect, now=lambda: NOW).mint(
        identity="alice", room="standup", role=Role.HOST if dialect == "videosdk" else None
    )
    assert minted.dialect == dialect and minted.kid == API_KEY
    verified = verifier.verify(minted.token, room="standup", identity="alice")
    assert verified.claims.jti == minted.claims.jti
    assert verified.grant == minted.claims.grant


# ---- the AccessToken builder ---------------------------------------------------------------


def test_builder_produces_a_verifiable_token(verifier: TokenVerifier) -> None:
    token = (
        AccessToken(API_KEY, SECRET, now=lambda: NOW)
        .with_identity("alice")
        .with_name("Alice")
        .with_room("standup")
        .with_role(Role.SPEAKER)
        .with_permissions(can_send_data=False)
        .with_metadata({"seat": 3})
        .with_attributes({"team": "blue"})
        .with_ttl(timedelta(minutes=5))
        .to_jwt()
    )
    verified = verifier.verify(token, room="standup", identity="alice")
    claims = verified.claims
    assert claims.name == "Alice" and claims.metadata == {"seat": 3}
    assert claims.attributes == {"team": "blue"} and claims.expires_at == NOW + 300
    assert verified.grant == PRESETS[Role.SPEAKER].replace(can_send_data=False)


def test_builder_merges_grant_calls(verifier: TokenVerifier) -> None:
    builder = AccessToken(API_KEY, SECRET, now=lambda: NOW).with_identity("a").with_room("r")
    builder.with_role(Role.LISTENER).with_grant({"canPublish": True})
    builder.with_permissions(sources={"cam": True}).with_permissions(sources={"mic": True})
    grant = builder.mint().claims.grant
    assert grant.can_produce and {Source.CAM, Source.MIC} <= grant.sources


def test_builder_join_scope_and_dialect(verifier: TokenVerifier) -> None:
    minted = (
        AccessToken(API_KEY, SECRET, now=lambda: NOW)
        .with_identity("a")
        .with_room("r")
        .with_join("ask")
        .mint()
    )
    assert minted.claims.grant.join is JoinMode.ASK
    api = AccessToken(API_KEY, SECRET, now=lambda: NOW).with_scope("api").mint()
    assert api.claims.grant.scope == frozenset({Scope.API})
    lk = (
        AccessToken(API_KEY, SECRET, now=lambda: NOW)
        .with_identity("a")
        .with_room("r")
        .with_dialect("livekit")
        .with_kind("agent")
        .mint()
    )
    assert lk.dialect == "livekit" and verifier.verify(lk.token).claims.kind == "agent"


def test_builder_custom_role() -> None:
    role = CustomRole.from_permissions("stage-manager", {"can_consume": True, "moderate": True})
    minted = (
        AccessToken(API_KEY, SECRET, now=lambda: NOW)
        .with_identity("a")
        .with_room("r")
        .with_role(role)
        .mint()
    )
    assert minted.claims.role == "stage-manager" and minted.claims.grant.moderate


def test_builder_refusals() -> None:
    with pytest.raises(ConfigurationError):
        AccessToken(API_KEY)
    with pytest.raises(ConfigurationError):
        AccessToken(None, SECRET)
    with pytest.raises(WeakKeyError):
        AccessToken(API_KEY, "short")
    with pytest.raises(InvalidClaimValueError, match="identity is required"):
        AccessToken(API_KEY, SECRET).with_room("r").to_jwt()
    builder = AccessToken(API_KEY, SECRET, max_ttl=600, now=lambda: NOW).with_identity("a")
    assert builder.mint().claims.expires_at == NOW + 600  # default TTL capped by max_ttl
    with pytest.raises(InvalidClaimValueError):
        builder.with_ttl(601).mint()
