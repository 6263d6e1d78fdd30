"""Huddle01's peer-token layout: ``roomId``, ``peerId``, ``role``, a ``permissions`` object.

Tokens are signed by the server with an asymmetric key (``kid`` in the header) that clients
check against the server's JWKS. ``screen_audio`` travels with ``screen``; permissions missing
from a token are taken from its role, merged deeply (sources included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomkey.claims import Claims
from roomkey.dialects._fields import (
    WireRead,
    opt_bool,
    opt_map,
    opt_str,
    opt_time,
    refuse,
    registered,
    req_str,
    unknown,
)
from roomkey.errors import InvalidClaimsError, InvalidGrantError
from roomkey.grants import Grant, JoinMode, Scope, Source
from roomkey.roles import DENY_ALL, PRESETS, lookup_preset

NAME = "huddle01"
TOP_KEYS = (
    "iss",
    "roomId",
    "peerId",
    "role",
    "permissions",
    "displayName",
    "metadata",
    "iat",
    "nbf",
    "exp",
    "jti",
)
PERMISSION_KEYS = (
    "admin",
    "canConsume",
    "canProduce",
    "canProduceSources",
    "canSendData",
    "canRecvData",
    "canUpdateMetadata",
)
SOURCE_KEYS = ("cam", "mic", "screen")

_TOP_SET = frozenset(TOP_KEYS)
_PERMISSION_SET = frozenset(PERMISSION_KEYS)


class Huddle01Dialect:
    """Huddle01 (asymmetric signature, ``kid`` header, permissions object)."""

    name = NAME
    kid_header = True
    requires_jti = False
    asymmetric_only = True
    refuses_unknown_claims = False

    def to_wire(self, claims: Claims) -> dict[str, Any]:
        _check_expressible(claims)
        payload: dict[str, Any] = {"iss": claims.api_key}
        if claims.room is not None:
            payload["roomId"] = claims.room
        if claims.identity is not None:
            payload["peerId"] = claims.identity
        if claims.role is not None:
            payload["role"] = claims.role
        payload["permissions"] = _permissions(claims.grant)
        if claims.name is not None:
            payload["displayName"] = claims.name
        if claims.metadata is not None:
            payload["metadata"] = claims.metadata
        return registered(claims, payload)

    def from_wire(self, payload: Mapping[str, Any]) -> WireRead:
        role = opt_str(payload, "role")
        raw = opt_map(payload, "permissions") or {}
        claims = Claims(
            api_key=req_str(payload, "iss"),
            identity=opt_str(payload, "peerId"),
            room=opt_str(payload, "roomId"),
            grant=_read_grant(role, raw),
            issued_at=opt_time(payload, "iat"),
            not_before=opt_time(payload, "nbf"),
            expires_at=opt_time(payload, "exp"),
            jti=opt_str(payload, "jti"),
            role=role,
            name=opt_str(payload, "displayName"),
            metadata=payload.get("metadata"),
        )
        extra = unknown(payload, _TOP_SET) + unknown(raw, _PERMISSION_SET, "permissions.")
        sources = raw.get("canProduceSources")
        if isinstance(sources, dict):
            extra += unknown(sources, SOURCE_KEYS, "permissions.canProduceSources.")
        return WireRead(claims, tuple(extra))

    def issuer(self, payload: Mapping[str, Any]) -> str | None:
        iss = payload.get("iss")
        return iss if isinstance(iss, str) else None

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return "peerId" in payload or isinstance(payload.get("permissions"), dict)


def _check_expressible(claims: Claims) -> None:
    grant = claims.grant
    if (Source.SCREEN in grant.sources) != (Source.SCREEN_AUDIO in grant.sources):
        raise refuse(
            NAME,
            "sources",
            "its 'screen' source covers both",
            what="screen_audio apart from screen",
        )
    if grant.admin != grant.moderate:
        raise refuse(
            NAME, "moderate", "'admin' is its only such permission", what="moderate without admin"
        )
    if grant.join is JoinMode.ASK:
        raise refuse(
            NAME, "join", "Huddle01 locks rooms instead of per-token lobbies", what="join=ask"
        )
    if grant.scope != frozenset({Scope.ROOM}):
        raise refuse(NAME, "scope", "Huddle01 peer tokens only join rooms", what="api scope")
    for field in ("hidden", "recorder"):
        if getattr(grant, field):
            raise refuse(NAME, field, "Huddle01 has no such permission")
    for field in ("audience", "kind", "room_config"):
        if getattr(claims, field) is not None:
            raise refuse(NAME, field, "Huddle01 tokens carry no such claim")
    if claims.attributes:
        raise refuse(NAME, "attributes", "Huddle01 tokens carry no such claim")


def _permissions(grant: Grant) -> dict[str, Any]:
    return {
        "admin": grant.admin,
        "canConsume": grant.can_consume,
        "canProduce": grant.can_produce,
        "canProduceSources": {s: Source(s) in grant.sources for s in SOURCE_KEYS},
        "canSendData": grant.can_send_data,
        "canRecvData": grant.can_recv_data,
        "canUpdateMetadata": grant.can_update_metadata,
    }


def _read_grant(role: str | None, raw: Mapping[str, Any]) -> Grant:
    preset = lookup_preset(role) if role else None
    base = PRESETS[preset] if preset is not None else DENY_ALL
    where = "permissions."
    sources_raw = raw.get("canProduceSources")
    if sources_raw is not None and not isinstance(sources_raw, dict):
        raise InvalidClaimsError(
            "canProduceSources must be an object", claim=where + "canProduceSources"
        )
    sources = set(base.sources)
    for key in SOURCE_KEYS:
        if opt_bool(
            sources_raw or {}, key, Source(key) in base.sources, where + "canProduceSources."
        ):
            sources.add(Source(key))
        else:
            sources.discard(Source(key))
    if Source.SCREEN in sources:
        sources.add(Source.SCREEN_AUDIO)
    else:
        sources.discard(Source.SCREEN_AUDIO)
    produce = opt_bool(raw, "canProduce", base.can_produce, where) and bool(sources)
    admin = opt_bool(raw, "admin", base.admin, where)
    try:
        return Grant(
            admin=admin,
            moderate=admin,
            can_consume=opt_bool(raw, "canConsume", base.can_consume, where),
            can_produce=produce,
            sources=frozenset(sources) if produce else frozenset(),
            can_send_data=opt_bool(raw, "canSendData", base.can_send_data, where),
            can_recv_data=opt_bool(raw, "canRecvData", base.can_recv_data, where),
            can_update_metadata=opt_bool(raw, "canUpdateMetadata", base.can_update_metadata, where),
        )
    except InvalidGrantError as exc:
        raise InvalidClaimsError(
            f"permissions are inconsistent: {exc.message}", claim="permissions"
        ) from exc


DIALECT = Huddle01Dialect()
