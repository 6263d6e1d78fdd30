"""Interop with PyPI ``livekit-api``: its verifier reads roomkey's tokens, roomkey reads its.

Expected grants for LiveKit-minted tokens are what LiveKit's server gives (``auth/grants.go``):
``canPublish``/``canSubscribe`` true when unset, ``canPublishData`` follows ``canPublish``, an
empty ``canPublishSources`` allows every source, ``canUpdateOwnMetadata`` false when unset.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given, settings
from hypothesis import strategies as st
from interop_support import API_KEY, SECRET, hmac_ring, mint_now
from livekit.api import AccessToken as LiveKitToken
from livekit.api import TokenVerifier as LiveKitVerifier
from livekit.api import VideoGrants

from roomkey._codec import json_dumps
from roomkey.capabilities import Capability
from roomkey.claims import Claims
from roomkey.errors import BadSignatureError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source
from roomkey.roles import Role
from roomkey.verifying import TokenVerifier

LK_SOURCES = {
    Source.CAM: "camera",
    Source.MIC: "microphone",
    Source.SCREEN: "screen_share",
    Source.SCREEN_AUDIO: "screen_share_audio",
}
NO_UPDATE = {"can_update_metadata": False}
ROOMS_RW = frozenset(
    {Capability.ROOMS_READ, Capability.ROOMS_WRITE}
)  # LiveKit's default when the flag is unset


def _livekit_reads(token: str) -> Any:
    return LiveKitVerifier(API_KEY, SECRET).verify(token)


def _expected_video(claims: Claims) -> dict[str, Any]:
    """What LiveKit's verifier should report for roomkey ``claims`` (flags it omits read None)."""
    g = claims.grant
    restricted = g.can_produce and g.sources != ALL_SOURCES
    return {
        "room": claims.room or "",
        "room_join": True if Scope.ROOM in g.scope else None,
        "room_admin": True if g.admin else None,
        "room_create": True if Capability.ROOMS_WRITE in g.capabilities else None,
        "room_list": True if Capability.ROOMS_READ in g.capabilities else None,
        "can_publish": g.can_produce,
        "can_subscribe": g.can_consume,
        "can_publish_data": g.can_send_data,
        "can_publish_sources": [LK_SOURCES[s] for s in Source if s in g.sources]
        if restricted
        else None,
        "can_update_own_metadata": True if g.can_update_metadata else None,
        "hidden": True if g.hidden else None,
        "recorder": True if g.recorder else None,
    }


def _assert_livekit_reads_same(claims: Claims, token: str) -> None:
    read = _livekit_reads(token)
    for field, value in _expected_video(claims).items():
        assert getattr(read.video, field) == value, field
    assert read.identity == (claims.identity or "")
    assert read.name == (claims.name or "")
    meta = claims.metadata
    if meta is not None and not isinstance(meta, str):
        meta = json_dumps(meta).decode()
    assert read.metadata == (meta or "")
    assert read.attributes == dict(claims.attributes)
    assert read.kind == (claims.kind or "")


ROOMKEY_CASES: list[dict[str, Any]] = [
    {"role": Role.GUEST, "name": "Alice", "metadata": {"seat": 3}, "attributes": {"team": "b"}},
    {"role": Role.SPEAKER, "metadata": "plain text"},
    {"role": Role.LISTENER},
    {"role": Role.HOST, "kind": "standard"},
    {"role": Role.CO_HOST, "permissions": {"hidden": True, "recorder": True}},
    {"role": Role.BOT, "permissions": {"can_recv_data": True}, "kind": "agent"},
    {"role": Role.GUEST, "permissions": {"sources": {"screen": False, "screen_audio": False}}},
    {"role": Role.GUEST, "permissions": {"canPublishData": False, "canSubscribe": False}},
    {"role": Role.GUEST, "permissions": {"scope": ["room", "api"], "capabilities": ["rooms:read"]}},
    {
        "role": Role.GUEST,
        "permissions": {"scope": ["room", "api"], "capabilities": ["rooms:read", "rooms:write"]},
    },
]


@pytest.mark.parametrize("fields", ROOMKEY_CASES)
def test_livekit_verifier_accepts_roomkey_tokens_with_the_same_grants(
    fields: dict[str, Any],
) -> None:
    minted = mint_now("livekit", identity="alice", room="standup", **fields)
    _assert_livekit_reads_same(minted.claims, minted.token)


def test_livekit_verifier_reads_an_api_token_and_room_config() -> None:
    minted = mint_now(
        "livekit",
        role=Role.GUEST,  # the default role of an API token (bot) denies receiving data
        permissions={"scope": ["api"], "capabilities": ["rooms:write"]},
        room_config={"name": "standup", "maxParticipants": 10},
    )
    _assert_livekit_reads_same(minted.claims, minted.token)
    read = _livekit_reads(minted.token)
    assert MessageToDict(read.room_config) == {"name": "standup", "maxParticipants": 10}


def test_livekit_verifier_refuses_a_token_signed_with_another_secret() -> None:
    minted = mint_now("livekit", identity="alice", room="standup")
    with pytest.raises(jwt.InvalidSignatureError):
        LiveKitVerifier(API_KEY, SECRET + "-other").verify(minted.token)


@st.composite
def livekit_permissions(draw: st.DrawFn) -> dict[str, Any]:
    """Overrides a LiveKit token can carry (receiving data is always on, no lobby)."""
    sources = draw(st.frozensets(st.sampled_from([s.value for s in Source])))
    out: dict[str, Any] = {
        "admin": draw(st.booleans()),
        "can_consume": draw(st.booleans()),
        "can_send_data": draw(st.booleans()),
        "can_update_metadata": draw(st.booleans()),
        "hidden": draw(st.booleans()),
        "recorder": draw(st.booleans()),
        "scope": draw(st.sampled_from([["room"], ["api"], ["room", "api"]])),
    }
    if "api" in out["scope"]:  # a LiveKit server token is marked by roomCreate/roomList
        caps = draw(st.sets(st.sampled_from(["rooms:read", "rooms:write"]), min_size=1))
        out["capabilities"] = sorted(caps)
    out["moderate"] = out["admin"]
    out.update({"sources": sorted(sources)} if sources else {"can_produce": False})
    return out


@settings(max_examples=100, deadline=None)
@given(livekit_permissions(), st.none() | st.text(min_size=1, max_size=12))
def test_livekit_verifier_agrees_on_any_expressible_grant(
    permissions: dict[str, Any], name: str | None
) -> None:
    name = name if name and name.isprintable() else None
    minted = mint_now(
        "livekit",
        identity="alice",
        room="standup",
        role=Role.GUEST,
        permissions=permissions,
        name=name,
    )
    _assert_livekit_reads_same(minted.claims, minted.token)


# ---- tokens minted by livekit-api, read by roomkey -------------------------------------------

ROOM = {"room_join": True, "room": "standup"}
SDK_CASES: list[tuple[VideoGrants, Grant]] = [
    (VideoGrants(**ROOM), Grant(**NO_UPDATE)),
    (
        VideoGrants(**ROOM, can_publish=False),
        # the SDK always writes canPublishData (default True), so data stays allowed
        Grant(can_produce=False, sources=frozenset(), **NO_UPDATE),
    ),
    (
        VideoGrants(**ROOM, can_publish_sources=["camera", "microphone"]),
        Grant(sources=frozenset({Source.CAM, Source.MIC}), **NO_UPDATE),
    ),
    (VideoGrants(**ROOM, can_publish_sources=[]), Grant(**NO_UPDATE)),
    (
        VideoGrants(**ROOM, can_publish_sources=["screen_share", "screen_share_audio"]),
        Grant(sources=frozenset({Source.SCREEN, Source.SCREEN_AUDIO}), **NO_UPDATE),
    ),
    (VideoGrants(**ROOM, room_admin=True), Grant(admin=True, **NO_UPDATE)),
    (
        VideoGrants(**ROOM, hidden=True, recorder=True, can_subscribe=True),
        Grant(hidden=True, recorder=True, **NO_UPDATE),
    ),
    (
        VideoGrants(
            **ROOM, can_subscribe=False, can_publish_data=False, can_update_own_metadata=True
        ),
        Grant(can_consume=False, can_send_data=False),
    ),
    (
        VideoGrants(**ROOM, room_create=True, room_list=True),
        Grant(scope=frozenset(Scope), capabilities=ROOMS_RW, **NO_UPDATE),
    ),
    # grants that mean nothing to roomkey: a server token, but no roomkey capability
    (
        VideoGrants(**ROOM, room_record=True, ingress_admin=True),
        Grant(scope=frozenset(Scope), **NO_UPDATE),
    ),
]


def _roomkey_reads(token: str, **kw: Any) -> Any:
    return TokenVerifier(hmac_ring(), dialects=["livekit"]).verify(token, now=time.time(), **kw)


@pytest.mark.parametrize(("video", "expected"), SDK_CASES)
def test_roomkey_reads_livekit_sdk_tokens_as_livekits_server_does(
    video: VideoGrants, expected: Grant
) -> None:
    token = (
        LiveKitToken(API_KEY, SECRET)
        .with_identity("alice")
        .with_name("Alice")
        .with_metadata('{"seat":3}')
        .with_attributes({"team": "blue"})
        .with_kind("standard")
        .with_grants(video)
        .to_jwt()
    )
    verified = _roomkey_reads(token, room="standup", identity="alice")
    assert verified.dialect == "livekit"
    assert verified.unknown_keys == ()
    assert verified.grant == expected
    claims = verified.claims
    assert (claims.api_key, claims.identity, claims.room) == (API_KEY, "alice", "standup")
    assert (claims.name, claims.metadata, claims.kind) == ("Alice", '{"seat":3}', "standard")
    assert claims.attributes == {"team": "blue"}
    assert claims.expires_at is not None and claims.not_before is not None
    assert claims.jti is None and claims.role is None


def test_roomkey_reads_a_livekit_server_api_token() -> None:
    token = (
        LiveKitToken(API_KEY, SECRET)
        .with_grants(VideoGrants(room_create=True, room_list=True))
        .to_jwt()
    )
    verified = _roomkey_reads(token, scope="api")
    assert verified.claims.identity is None
    assert verified.grant == Grant(scope=frozenset({Scope.API}), capabilities=ROOMS_RW, **NO_UPDATE)


def test_roomkey_refuses_a_livekit_sdk_token_with_another_secret() -> None:
    token = (
        LiveKitToken(API_KEY, SECRET + "-other")
        .with_identity("alice")
        .with_grants(VideoGrants(**ROOM))
        .to_jwt()
    )
    with pytest.raises(BadSignatureError, match="does not verify"):
        _roomkey_reads(token)


# ---- raw LiveKit-shaped payloads: the implicit defaults the SDK never exercises --------------

RAW_CASES: list[tuple[dict[str, Any], Grant]] = [
    ({}, Grant(**NO_UPDATE)),
    (
        {"canPublish": False},
        Grant(can_produce=False, sources=frozenset(), can_send_data=False, **NO_UPDATE),
    ),
    (
        {"canPublish": False, "canPublishData": True},
        Grant(can_produce=False, sources=frozenset(), **NO_UPDATE),
    ),
    ({"canPublish": True}, Grant(**NO_UPDATE)),
    ({"canSubscribe": False}, Grant(can_consume=False, **NO_UPDATE)),
    ({"canPublishSources": []}, Grant(**NO_UPDATE)),
    (
        {"canPublishSources": ["microphone"], "canPublishData": False},
        Grant(sources=frozenset({Source.MIC}), can_send_data=False, **NO_UPDATE),
    ),
    (
        {"canPublish": False, "canPublishSources": ["camera"]},
        Grant(can_produce=False, sources=frozenset(), can_send_data=False, **NO_UPDATE),
    ),
    ({"canUpdateOwnMetadata": True}, Grant()),
    ({"roomAdmin": True}, Grant(admin=True, **NO_UPDATE)),
]


@pytest.mark.parametrize(("video", "expected"), RAW_CASES)
def test_implicit_defaults_apply_to_raw_livekit_payloads(
    video: dict[str, Any], expected: Grant
) -> None:
    now = int(time.time())
    payload = {
        "iss": API_KEY,
        "sub": "alice",
        "nbf": now,
        "exp": now + 600,
        "video": {"roomJoin": True, "room": "standup", **video},
    }
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    verified = _roomkey_reads(token, room="standup")
    assert verified.grant == expected
    assert verified.grant.join is JoinMode.DIRECT
    # LiveKit's own Python verifier accepts the same token
    assert _livekit_reads(token).video.room == "standup"
