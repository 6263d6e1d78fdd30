"""LiveKit's layout: the ``video`` grant, metadata as a string, implicit defaults when reading."""

from __future__ import annotations

from typing import Any

import pytest
from dialect_support import API_KEY, NOW, SECRET, make_claims, round_trip

from roomkey import jws
from roomkey.capabilities import Capability
from roomkey.claims import Claims
from roomkey.dialects import LIVEKIT, detect_dialect
from roomkey.errors import InvalidClaimsError, MissingClaimError, UnsupportedByDialectError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source
from roomkey.keys import HmacKey, KeyRing
from roomkey.minting import TokenMinter
from roomkey.roles import PRESETS, Role
from roomkey.verifying import TokenVerifier


def _read(video: dict[str, Any], **top: Any) -> Claims:
    payload = {"iss": API_KEY, "sub": "alice", "exp": NOW + 600, "video": video, **top}
    return LIVEKIT.from_wire(payload).claims


def test_to_wire_writes_what_livekit_sdks_write() -> None:
    claims = make_claims(
        name="Alice", metadata={"seat": 3}, attributes={"team": "blue"}, kind="standard"
    )
    assert LIVEKIT.to_wire(claims) == {
        "iss": API_KEY,
        "sub": "alice",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "jti-0001",
        "name": "Alice",
        "metadata": '{"seat":3}',
        "attributes": {"team": "blue"},
        "kind": "standard",
        "video": {
            "roomJoin": True,
            "room": "standup",
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
            "canUpdateOwnMetadata": True,
        },
    }


@pytest.mark.parametrize(
    ("grant", "video"),
    [
        (
            PRESETS[Role.SPEAKER],
            {"canPublish": True, "canPublishSources": ["microphone"], "canUpdateOwnMetadata": True},
        ),
        (PRESETS[Role.LISTENER], {"canPublish": False, "canUpdateOwnMetadata": True}),
        (
            PRESETS[Role.BOT].replace(can_recv_data=True),
            {"canPublish": False, "canSubscribe": True, "canPublishData": False},
        ),
        (PRESETS[Role.HOST], {"roomAdmin": True, "roomJoin": True}),
        (Grant(hidden=True, recorder=True), {"hidden": True, "recorder": True}),
        (
            Grant(sources=frozenset({Source.SCREEN, Source.SCREEN_AUDIO})),
            {"canPublishSources": ["screen_share", "screen_share_audio"]},
        ),
    ],
)
def test_grant_fields_map_to_video_flags(grant: Grant, video: dict[str, Any]) -> None:
    written = LIVEKIT.to_wire(make_claims(grant=grant))["video"]
    assert written.items() >= video.items()
    if grant.sources in (ALL_SOURCES, frozenset()):
        assert "canPublishSources" not in written
    if not grant.can_update_metadata:
        assert "canUpdateOwnMetadata" not in written


def test_scope_maps_to_room_join_and_room_api_flags() -> None:
    rooms = frozenset({Capability.ROOMS_READ, Capability.ROOMS_WRITE})
    api_only = LIVEKIT.to_wire(
        make_claims(grant=Grant(scope=frozenset({Scope.API}), capabilities=rooms))
    )["video"]
    assert api_only["roomCreate"] is api_only["roomList"] is True
    assert "roomJoin" not in api_only
    both = LIVEKIT.to_wire(make_claims(grant=Grant(scope=frozenset(Scope), capabilities=rooms)))[
        "video"
    ]
    assert both["roomJoin"] is both["roomCreate"] is True


def test_string_metadata_and_room_config_are_carried_as_given() -> None:
    claims = make_claims(metadata='{"raw": true}', room_config={"name": "standup"})
    payload = LIVEKIT.to_wire(claims)
    assert payload["metadata"] == '{"raw": true}'
    assert payload["roomConfig"] == {"name": "standup"}
    assert round_trip(LIVEKIT, claims) == claims


def test_round_trip_drops_only_the_role_and_stringifies_metadata() -> None:
    claims = make_claims(
        role="guest", metadata=[1, "two"], attributes={"k": "v"}, kind="agent", name="Bot"
    )
    assert round_trip(LIVEKIT, claims) == claims.replace(role=None, metadata='[1,"two"]')


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        (make_claims(grant=PRESETS[Role.GUEST].replace(can_recv_data=False)), "can_recv_data"),
        (make_claims(grant=PRESETS[Role.BOT]), "can_recv_data"),
        (make_claims(grant=Grant(join=JoinMode.ASK)), "join"),
        (make_claims(grant=Grant(moderate=True)), "moderate"),
        (make_claims(audience="media-eu"), "audience"),
    ],
)
def test_inexpressible_fields_are_refused_not_dropped(claims: Claims, field: str) -> None:
    with pytest.raises(UnsupportedByDialectError, match="livekit format cannot express") as info:
        LIVEKIT.to_wire(claims)
    assert info.value.details["field"] == field  # the canonical name, whatever the message says
    assert info.value.code == "unsupported_by_dialect"


def test_reading_applies_livekits_implicit_defaults() -> None:
    claims = _read({"roomJoin": True, "room": "standup"})
    assert claims.grant == Grant(
        can_consume=True,
        can_produce=True,
        sources=ALL_SOURCES,
        can_send_data=True,
        can_recv_data=True,
        can_update_metadata=False,
    )
    assert claims.room == "standup"


def test_publish_data_follows_publish_when_unset() -> None:
    grant = _read({"roomJoin": True, "canPublish": False}).grant
    assert (grant.can_produce, grant.sources, grant.can_send_data) == (False, frozenset(), False)
    grant = _read({"roomJoin": True, "canPublish": False, "canPublishData": True}).grant
    assert (grant.can_produce, grant.can_send_data) == (False, True)
    grant = _read({"roomJoin": True, "canPublishData": False}).grant
    assert (grant.can_produce, grant.can_send_data) == (True, False)


def test_empty_source_list_allows_every_source() -> None:
    assert _read({"roomJoin": True, "canPublishSources": []}).grant.sources == ALL_SOURCES
    listed = _read({"roomJoin": True, "canPublishSources": ["camera", "screen_share"]})
    assert listed.grant.sources == {Source.CAM, Source.SCREEN}


def test_room_admin_gives_admin_and_moderate() -> None:
    grant = _read({"roomJoin": True, "roomAdmin": True}).grant
    assert grant.admin and grant.moderate


@pytest.mark.parametrize("flag", ["roomCreate", "roomList", "roomRecord", "ingressAdmin"])
def test_room_api_flags_give_api_scope(flag: str) -> None:
    assert _read({flag: True}).grant.scope == {Scope.API}


def test_a_grant_allowing_nothing_is_refused() -> None:
    with pytest.raises(InvalidClaimsError, match="neither roomJoin nor any room API"):
        _read({"room": "standup", "canPublish": True})
    with pytest.raises(InvalidClaimsError, match="neither roomJoin"):
        LIVEKIT.from_wire({"iss": API_KEY, "sub": "alice", "exp": NOW})


@pytest.mark.parametrize(
    ("video", "top"),
    [
        ({"roomJoin": "true"}, {}),
        ({"roomJoin": True, "canPublishSources": "camera"}, {}),
        ({"roomJoin": True}, {"metadata": {"seat": 3}}),
        ({"roomJoin": True}, {"attributes": {"a": 1}}),
        ("roomJoin", {}),
    ],
)
def test_badly_typed_fields_are_refused(video: Any, top: dict[str, Any]) -> None:
    with pytest.raises(InvalidClaimsError):
        _read(video, **top)


def test_issuer_is_required() -> None:
    with pytest.raises(MissingClaimError, match="'iss'"):
        LIVEKIT.from_wire({"sub": "alice", "video": {"roomJoin": True}})


def test_empty_subject_reads_as_no_identity() -> None:
    assert _read({"roomCreate": True}, sub="").identity is None


def test_misspelt_and_unknown_keys_are_reported_with_a_hint() -> None:
    read = LIVEKIT.from_wire(
        {
            "iss": API_KEY,
            "sub": "alice",
            "extra": 1,
            "video": {"roomJoin": True, "roomName": "x", "canPublsh": True},
        }
    )
    assert read.unknown_keys == (
        "extra",
        "video.roomName (did you mean 'room'?)",
        "video.canPublsh (did you mean 'canPublish'?)",
    )
    read = LIVEKIT.from_wire(
        {"iss": API_KEY, "video": {"roomJoin": True, "canPublishSources": ["camera", "lidar"]}}
    )
    assert read.unknown_keys == ("video.canPublishSources['lidar']",)
    assert read.claims.grant.sources == {Source.CAM}


def test_detection_picks_livekit_for_video_or_a_plain_issuer() -> None:
    assert detect_dialect({"iss": API_KEY, "video": {}}) is LIVEKIT
    assert detect_dialect({"iss": API_KEY}) is LIVEKIT
    assert not LIVEKIT.matches({"rk": 1, "iss": API_KEY})


def test_minted_token_has_no_kid_and_the_key_is_chosen_by_issuer() -> None:
    key = HmacKey(API_KEY, SECRET)
    minted = TokenMinter(key, "livekit", now=lambda: NOW).mint(identity="alice", room="standup")
    assert jws.parse(minted.token).header == {"alg": "HS256", "typ": "JWT"}
    verified = TokenVerifier(KeyRing([key]), now=lambda: NOW).verify(minted.token, room="standup")
    assert (verified.dialect, verified.kid) == ("livekit", API_KEY)
    assert verified.claims == minted.claims.replace(role=None)
