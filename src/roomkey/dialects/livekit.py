"""LiveKit's access-token layout, as its server SDKs write it and its server reads it.

Reading applies LiveKit's implicit defaults: ``canPublish`` and ``canSubscribe`` are true when
unset, ``canPublishData`` follows ``canPublish``, an empty ``canPublishSources`` allows every
source. LiveKit has no flag for receiving data (always allowed), no lobby, and a single
``roomAdmin`` flag for both admin and moderate rights.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from roomkey._codec import json_dumps
from roomkey._memo import Memo
from roomkey.capabilities import LIVEKIT_FLAGS, Capability
from roomkey.claims import Claims
from roomkey.dialects._fields import (
    WireRead,
    is_bad,
    opt_bool,
    opt_map,
    opt_str,
    opt_time,
    quick_str_map,
    quick_texts,
    quick_times,
    refuse,
    registered,
    req_str,
    str_list,
    str_map,
    unknown,
)
from roomkey.errors import InvalidClaimsError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source

NAME = "livekit"
TO_LIVEKIT: Mapping[Source, str] = {
    Source.CAM: "camera",
    Source.MIC: "microphone",
    Source.SCREEN: "screen_share",
    Source.SCREEN_AUDIO: "screen_share_audio",
}
FROM_LIVEKIT: Mapping[str, Source] = {v: k for k, v in TO_LIVEKIT.items()}
_API_FLAGS = ("roomCreate", "roomList", "roomRecord", "ingressAdmin")
VIDEO_KEYS = (
    "roomCreate",
    "roomList",
    "roomRecord",
    "roomAdmin",
    "roomJoin",
    "room",
    "destinationRoom",
    "canPublish",
    "canSubscribe",
    "canPublishData",
    "canPublishSources",
    "canUpdateOwnMetadata",
    "ingressAdmin",
    "hidden",
    "recorder",
    "agent",
    "canManageAgentSession",
    "canSubscribeMetrics",
)
TOP_KEYS = (
    "iss",
    "sub",
    "nbf",
    "exp",
    "iat",
    "jti",
    "name",
    "metadata",
    "attributes",
    "video",
    "kind",
    "roomConfig",
    "sha256",
    "roomPreset",
    "sip",
    "inference",
    "observability",
    "agent",
    "agentEndpoint",
    "agentThread",
    "aud",
)

_TOP_SET = frozenset(TOP_KEYS)
_VIDEO_SET = frozenset(VIDEO_KEYS)


class LiveKitDialect:
    """LiveKit (``video`` grant, ``iss`` = API key, HS256, no ``kid``)."""

    name = NAME
    kid_header = False
    requires_jti = False
    asymmetric_only = False
    refuses_unknown_claims = False

    def to_wire(self, claims: Claims) -> dict[str, Any]:
        _check_expressible(claims)
        payload: dict[str, Any] = {"iss": claims.api_key, "sub": claims.identity or ""}
        registered(claims, payload)
        if claims.name is not None:
            payload["name"] = claims.name
        if claims.metadata is not None:
            meta = claims.metadata
            payload["metadata"] = meta if isinstance(meta, str) else json_dumps(meta).decode()
        if claims.attributes:
            payload["attributes"] = dict(claims.attributes)
        if claims.kind is not None:
            payload["kind"] = claims.kind
        if claims.room_config is not None:
            payload["roomConfig"] = dict(claims.room_config)
        payload["video"] = _video(claims)
        return payload

    def from_wire(self, payload: Mapping[str, Any]) -> WireRead:
        video = opt_map(payload, "video") or {}
        memo_key = _grant_key(video)
        grant = _GRANTS.get(memo_key)  # inline get_or: no closure built per token
        if grant is None:
            grant = _GRANTS.put(memo_key, _read_grant(video))
        fast = _well_typed(payload, video, grant)
        known = payload.keys() <= _TOP_SET and video.keys() <= _VIDEO_SET
        if fast is not None and known and not _unknown_sources(video):
            return tuple.__new__(WireRead, (fast, ()))  # no Python frame of WireRead.__new__
        claims = fast or Claims(
            api_key=req_str(payload, "iss"),
            identity=opt_str(payload, "sub"),
            room=opt_str(video, "room"),
            grant=grant,
            issued_at=opt_time(payload, "iat"),
            not_before=opt_time(payload, "nbf"),
            expires_at=opt_time(payload, "exp"),
            jti=opt_str(payload, "jti"),
            name=opt_str(payload, "name"),
            metadata=opt_str(payload, "metadata"),
            attributes=str_map(payload, "attributes"),
            kind=opt_str(payload, "kind"),
            room_config=opt_map(payload, "roomConfig"),
        )
        extra = unknown(payload, _TOP_SET) + [_with_hint(k) for k in unknown(video, _VIDEO_SET)]
        extra += [f"video.canPublishSources[{s!r}]" for s in _unknown_sources(video)]
        return WireRead(claims, tuple(extra))

    def issuer(self, payload: Mapping[str, Any]) -> str | None:
        iss = payload.get("iss")
        return iss if isinstance(iss, str) else None

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return "video" in payload or ("iss" in payload and "rk" not in payload)


_TEXTS = ("iss", "sub", "jti", "name", "metadata", "kind")


def _well_typed(
    payload: Mapping[str, Any], video: Mapping[str, Any], grant: Grant
) -> Claims | None:
    """The common case in one pass; None sends the payload to the exact per-field reader."""
    texts = quick_texts(payload, _TEXTS)
    room = quick_texts(video, ("room",))
    times = quick_times(payload)
    attributes = quick_str_map(payload.get("attributes"))
    room_config = payload.get("roomConfig")
    if texts is None or texts[0] is None or room is None or times is None:
        return None
    if is_bad(attributes) or (room_config is not None and type(room_config) is not dict):
        return None
    iss, sub, jti, name, metadata, kind = texts
    assert iss is not None
    # tuple.__new__: the named tuple built directly, without the Python frame of its __new__
    # or _make (one per verified token); the fields in Claims' order
    return tuple.__new__(
        Claims,
        (
            iss,
            sub,
            room[0],
            grant,
            times[0],
            times[1],
            times[2],
            jti,
            None,
            name,
            metadata,
            attributes,
            None,
            kind,
            room_config,
        ),
    )


def _check_expressible(claims: Claims) -> None:
    grant = claims.grant
    if not grant.can_recv_data:
        raise refuse(
            NAME,
            "can_recv_data",
            "LiveKit always delivers data messages",
            what="can_recv_data=false",
        )
    if grant.join is JoinMode.ASK:
        raise refuse(NAME, "join", "LiveKit has no lobby", what="join=ask")
    if grant.moderate and not grant.admin:
        raise refuse(
            NAME, "moderate", "roomAdmin is LiveKit's only such flag", what="moderate without admin"
        )
    if claims.audience is not None:
        raise refuse(NAME, "audience", "LiveKit tokens carry no aud")
    _check_capabilities(grant)


_TO_FLAGS: Mapping[Capability, str] = {cap: flag for flag, cap in LIVEKIT_FLAGS.items()}


def _check_capabilities(grant: Grant) -> None:
    """LiveKit marks a server token by its API grants: only roomCreate/roomList mean something."""
    other = sorted(c.value for c in grant.capabilities if c not in _TO_FLAGS)
    if other:
        raise refuse(
            NAME,
            "capabilities",
            "LiveKit's API grants carry only rooms:write (roomCreate) and rooms:read (roomList)",
            what=f"capabilities {', '.join(other)}",
        )
    if Scope.API in grant.scope and not grant.capabilities:
        raise refuse(
            NAME,
            "capabilities",
            "a LiveKit server token is marked by its API grants: name rooms:read or rooms:write",
            what="an API scope without capabilities",
        )


def _video(claims: Claims) -> dict[str, Any]:
    """The video grant; the parts before and after ``room`` depend on the grant only (memoised)."""
    head, tail = _VIDEO_PARTS.get_or(claims.grant, lambda: _video_parts(claims.grant))
    video = dict(head)
    if claims.room is not None:
        video["room"] = claims.room
    video.update(tail)
    if "canPublishSources" in tail:
        video["canPublishSources"] = list(tail["canPublishSources"])
    return video


def _video_parts(grant: Grant) -> tuple[dict[str, Any], dict[str, Any]]:
    head: dict[str, Any] = {}
    for flag, cap in LIVEKIT_FLAGS.items():
        if cap in grant.capabilities:
            head[flag] = True
    if grant.admin:
        head["roomAdmin"] = True
    if Scope.ROOM in grant.scope:
        head["roomJoin"] = True
    tail: dict[str, Any] = {
        "canPublish": grant.can_produce,
        "canSubscribe": grant.can_consume,
        "canPublishData": grant.can_send_data,
    }
    if grant.can_produce and grant.sources != ALL_SOURCES:
        tail["canPublishSources"] = tuple(TO_LIVEKIT[s] for s in Source if s in grant.sources)
    for flag, on in (
        ("canUpdateOwnMetadata", grant.can_update_metadata),
        ("hidden", grant.hidden),
        ("recorder", grant.recorder),
    ):
        if on:
            tail[flag] = True
    return head, tail


_VIDEO_PARTS: Memo[tuple[dict[str, Any], dict[str, Any]]] = Memo()
_GRANTS: Memo[Grant] = Memo()


def _grant_key(video: Mapping[str, Any]) -> bytes:
    """The video grant's exact JSON without the room (which does not shape the Grant)."""
    shape = dict(video)
    shape.pop("room", None)
    shape.pop("destinationRoom", None)
    return json_dumps(shape)


def _read_grant(video: Mapping[str, Any]) -> Grant:
    produce = opt_bool(video, "canPublish", True, "video.")
    listed = str_list(video, "canPublishSources") or []
    sources = frozenset(FROM_LIVEKIT[s] for s in listed if s in FROM_LIVEKIT) or ALL_SOURCES
    admin = opt_bool(video, "roomAdmin", False, "video.")
    scope = set()
    if opt_bool(video, "roomJoin", False, "video."):
        scope.add(Scope.ROOM)
    if any([opt_bool(video, flag, False, "video.") for flag in _API_FLAGS]):  # all type-checked
        scope.add(Scope.API)
    # roomRecord, ingressAdmin: a server token, but no right on roomkey's API
    capabilities = frozenset(c for f, c in LIVEKIT_FLAGS.items() if video.get(f) is True)
    if not scope:
        raise InvalidClaimsError(
            "the video grant allows neither roomJoin nor any room API call", claim="video"
        )
    return Grant(
        admin=admin,
        moderate=admin,
        can_consume=opt_bool(video, "canSubscribe", True, "video."),
        can_produce=produce,
        sources=sources if produce else frozenset(),
        can_send_data=opt_bool(video, "canPublishData", produce, "video."),
        can_recv_data=True,
        can_update_metadata=opt_bool(video, "canUpdateOwnMetadata", False, "video."),
        hidden=opt_bool(video, "hidden", False, "video."),
        recorder=opt_bool(video, "recorder", False, "video."),
        scope=frozenset(scope),
        capabilities=capabilities,
    )


def _unknown_sources(video: Mapping[str, Any]) -> list[str]:
    listed = video.get("canPublishSources")
    if not isinstance(listed, list):
        return []
    return [s for s in listed if s not in FROM_LIVEKIT]


def _with_hint(key: str) -> str:
    hint = difflib.get_close_matches(key, VIDEO_KEYS, n=1, cutoff=0.6)
    if key == "roomName":
        hint = ["room"]
    return f"video.{key} (did you mean {hint[0]!r}?)" if hint else f"video.{key}"


DIALECT = LiveKitDialect()
