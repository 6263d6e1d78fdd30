"""VideoSDK's token layout (version 2), field for field as its documentation gives it.

``{"apikey", "permissions": ["allow_join" | "ask_join", "allow_mod"], "version": 2, "roomId",
"participantId", "roles": ["rtc" | "crawler"], "iat", "exp", "jti"}``. Media rights are
implicit (everything is allowed), so only grants that allow every medium can be written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomkey.capabilities import CRAWLER_CAPABILITIES, NO_CAPABILITIES
from roomkey.claims import Claims
from roomkey.dialects._fields import (
    WireRead,
    opt_str,
    opt_time,
    refuse,
    registered,
    req_str,
    str_list,
    unknown,
)
from roomkey.errors import InvalidClaimsError, MissingClaimError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope

NAME = "videosdk"
TOP_KEYS = (
    "apikey",
    "permissions",
    "version",
    "roomId",
    "participantId",
    "roles",
    "iat",
    "exp",
    "jti",
    "nbf",
)
PERMISSIONS = ("allow_join", "ask_join", "allow_mod")
ROLES = {"rtc": Scope.ROOM, "crawler": Scope.API}

_TOP_SET = frozenset(TOP_KEYS)


class VideoSdkDialect:
    """VideoSDK (``apikey``, ``permissions`` list, ``roles`` rtc/crawler, HS256)."""

    name = NAME
    kid_header = False
    requires_jti = False
    asymmetric_only = False
    refuses_unknown_claims = False

    def to_wire(self, claims: Claims) -> dict[str, Any]:
        _check_expressible(claims)
        grant = claims.grant
        permissions = ["ask_join" if grant.join is JoinMode.ASK else "allow_join"]
        if grant.moderate:
            permissions.append("allow_mod")
        payload: dict[str, Any] = {"apikey": claims.api_key, "permissions": permissions}
        payload["version"] = 2
        if claims.room is not None:
            payload["roomId"] = claims.room
        if claims.identity is not None:
            payload["participantId"] = claims.identity
        roles = _roles(grant)
        if roles:
            payload["roles"] = roles
        # VideoSDK's documented payload has no nbf (it reads as iat); a later start is written
        # as a standard nbf rather than dropped, which would make the token valid too early.
        return registered(claims, payload, nbf=claims.not_before != claims.issued_at)

    def from_wire(self, payload: Mapping[str, Any]) -> WireRead:
        permissions = str_list(payload, "permissions")
        if permissions is None:
            raise MissingClaimError("claim 'permissions' is required", claim="permissions")
        version = payload.get("version")
        if version is not None and version != 2:
            raise InvalidClaimsError("claim 'version' must be 2 when present", claim="version")
        iat = opt_time(payload, "iat")
        claims = Claims(
            api_key=req_str(payload, "apikey"),
            identity=opt_str(payload, "participantId"),
            room=opt_str(payload, "roomId"),
            grant=_read_grant(permissions, str_list(payload, "roles")),
            issued_at=iat,
            not_before=opt_time(payload, "nbf") if "nbf" in payload else iat,
            expires_at=opt_time(payload, "exp"),
            jti=opt_str(payload, "jti"),
        )
        extra = unknown(payload, _TOP_SET)
        extra += [f"permissions[{p!r}]" for p in permissions if p not in PERMISSIONS]
        extra += [f"roles[{r!r}]" for r in str_list(payload, "roles") or [] if r not in ROLES]
        return WireRead(claims, tuple(extra))

    def issuer(self, payload: Mapping[str, Any]) -> str | None:
        apikey = payload.get("apikey")
        return apikey if isinstance(apikey, str) else None

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return "apikey" in payload


def _check_expressible(claims: Claims) -> None:
    grant = claims.grant
    implicit = {
        "can_consume": grant.can_consume,
        "can_produce": grant.can_produce,
        "can_send_data": grant.can_send_data,
        "can_recv_data": grant.can_recv_data,
        "can_update_metadata": grant.can_update_metadata,
    }
    for field, value in implicit.items():
        if not value:
            raise refuse(
                NAME, field, "VideoSDK media and data rights are implicit", what=f"{field}=false"
            )
    if grant.sources != ALL_SOURCES:
        raise refuse(
            NAME, "sources", "VideoSDK cannot limit sources", what="a restricted source list"
        )
    if grant.admin != grant.moderate:
        raise refuse(
            NAME, "moderate", "allow_mod is its only such permission", what="moderate without admin"
        )
    for field in ("hidden", "recorder"):
        if getattr(grant, field):
            raise refuse(NAME, field, "VideoSDK has no such participant flag")
    for field in ("name", "metadata", "audience", "kind", "room_config"):
        if getattr(claims, field) is not None:
            raise refuse(NAME, field, "VideoSDK tokens carry no such claim")
    if claims.attributes:
        raise refuse(NAME, "attributes", "VideoSDK tokens carry no such claim")
    _roles(grant)


def _roles(grant: Grant) -> list[str]:
    """The ``roles`` claim for a grant; empty for VideoSDK's role-less form (both scopes).

    ``crawler`` carries exactly the capabilities of VideoSDK's v2 server API; a token without
    roles is valid for both scopes but, for roomkey's API, a participant token.
    """
    if grant.capabilities not in (NO_CAPABILITIES, CRAWLER_CAPABILITIES):
        raise refuse(
            NAME,
            "capabilities",
            "the crawler role carries exactly " + ", ".join(sorted(CRAWLER_CAPABILITIES)),
            what="capabilities " + ", ".join(sorted(grant.capabilities)),
        )
    crawler = bool(grant.capabilities)
    if Scope.API in grant.scope and not crawler:
        if Scope.ROOM in grant.scope:
            return []
        raise refuse(
            NAME,
            "capabilities",
            "a crawler token carries " + ", ".join(sorted(CRAWLER_CAPABILITIES)),
            what="an API scope without capabilities",
        )
    return [r for r, s in ROLES.items() if s in grant.scope]


def _read_grant(permissions: list[str], roles: list[str] | None) -> Grant:
    ask, allow, mod = (
        "ask_join" in permissions,
        "allow_join" in permissions,
        "allow_mod" in permissions,
    )
    if ask and (allow or mod):
        raise InvalidClaimsError(
            "permissions combine ask_join with allow_join or allow_mod", claim="permissions"
        )
    if not (ask or allow or mod):
        raise InvalidClaimsError("permissions grant no way to join", claim="permissions")
    scope = frozenset(ROLES[r] for r in roles if r in ROLES) if roles else frozenset(Scope)
    if not scope:
        raise InvalidClaimsError("roles name neither rtc nor crawler", claim="roles")
    crawler = roles is not None and "crawler" in roles
    return Grant(
        admin=mod,
        moderate=mod,
        join=JoinMode.ASK if ask else JoinMode.DIRECT,
        scope=scope,
        capabilities=CRAWLER_CAPABILITIES if crawler else NO_CAPABILITIES,
    )


DIALECT = VideoSdkDialect()
