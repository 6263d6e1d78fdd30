"""roomkey's own layout, version 1: every canonical field, nothing implicit.

``{"rk": 1, "iss", "sub", "aud", "iat", "nbf", "exp", "jti", "room", "role", "name",
"metadata", "attributes", "kind", "room_config", "grant": {...canonical permission names}}``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomkey._codec import json_dumps
from roomkey._memo import Memo
from roomkey.capabilities import parse_capabilities
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
    registered,
    req_str,
    str_list,
    str_map,
    unknown,
)
from roomkey.errors import InvalidClaimsError, InvalidGrantError, MissingClaimError
from roomkey.grants import PERMISSION_FIELDS, Grant, parse_join, parse_scope, parse_sources

VERSION = 1
# Grants are immutable and few: remember them by their wire form (never handed to callers).
_WIRE_GRANTS: Memo[dict[str, Any]] = Memo()
_GRANTS: Memo[Grant] = Memo()
_TOP = (
    "rk",
    "iss",
    "sub",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "room",
    "role",
    "name",
    "metadata",
    "attributes",
    "kind",
    "room_config",
    "grant",
)
_SETS = ("sources", "join", "scope", "capabilities")
_BOOLS = tuple(f for f in PERMISSION_FIELDS if f not in _SETS)
# Absent from tokens minted before capabilities existed: read as none (nothing is implied).
_OPTIONAL = frozenset({"capabilities"})

_TOP_SET = frozenset(_TOP)
# ``capabilities`` is an optional grant member (a list of strings) that native tokens may carry.
_GRANT_SET = frozenset(PERMISSION_FIELDS) | {"capabilities"}


class NativeDialect:
    """roomkey's documented, versioned layout (``rk`` = 1)."""

    name = "native"
    kid_header = True
    requires_jti = True
    asymmetric_only = False
    # Application data belongs in metadata or attributes: a claim of its own would be one a
    # verifier of this version cannot check, so it is refused, not carried along.
    refuses_unknown_claims = True

    def to_wire(self, claims: Claims) -> dict[str, Any]:
        payload: dict[str, Any] = {"rk": VERSION, "iss": claims.api_key}
        if claims.identity is not None:
            payload["sub"] = claims.identity
        if claims.audience is not None:
            payload["aud"] = claims.audience
        registered(claims, payload)
        for key, value in (
            ("room", claims.room),
            ("role", claims.role),
            ("name", claims.name),
            ("metadata", claims.metadata),
            ("kind", claims.kind),
            ("room_config", claims.room_config),
        ):
            if value is not None:
                payload[key] = value
        if claims.attributes:
            payload["attributes"] = dict(claims.attributes)
        payload["grant"] = _wire_grant(claims.grant)
        return payload

    def from_wire(self, payload: Mapping[str, Any]) -> WireRead:
        rk = payload.get("rk")
        if rk != VERSION or rk is True:  # true == 1; ``is True``: the one bool equal to 1
            raise InvalidClaimsError(f"unsupported native version {rk!r}", claim="rk")
        raw_grant = opt_map(payload, "grant")
        if raw_grant is None:
            raise MissingClaimError("claim 'grant' is required", claim="grant")
        memo_key = json_dumps(raw_grant)
        grant = _GRANTS.get(memo_key)  # inline get_or: no closure built per token
        if grant is None:
            grant = _GRANTS.put(memo_key, _read_grant(raw_grant))
        fast = _well_typed(payload, grant)
        if fast is not None and payload.keys() <= _TOP_SET and raw_grant.keys() <= _GRANT_SET:
            return tuple.__new__(WireRead, (fast, ()))
        claims = fast or Claims(
            api_key=req_str(payload, "iss"),
            identity=opt_str(payload, "sub"),
            room=opt_str(payload, "room"),
            grant=grant,
            issued_at=opt_time(payload, "iat"),
            not_before=opt_time(payload, "nbf"),
            expires_at=opt_time(payload, "exp"),
            jti=opt_str(payload, "jti"),
            role=opt_str(payload, "role"),
            name=opt_str(payload, "name"),
            metadata=payload.get("metadata"),
            attributes=str_map(payload, "attributes"),
            audience=opt_str(payload, "aud"),
            kind=opt_str(payload, "kind"),
            room_config=opt_map(payload, "room_config"),
        )
        extra = unknown(payload, _TOP_SET) + unknown(raw_grant, _GRANT_SET, "grant.")
        return WireRead(claims, tuple(extra))

    def issuer(self, payload: Mapping[str, Any]) -> str | None:
        iss = payload.get("iss")
        return iss if isinstance(iss, str) else None

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return "rk" in payload


_TEXTS = ("iss", "sub", "room", "jti", "role", "name", "aud", "kind")


def _well_typed(payload: Mapping[str, Any], grant: Grant) -> Claims | None:
    """The common case in one pass; None sends the payload to the exact per-field reader."""
    texts = quick_texts(payload, _TEXTS)
    times = quick_times(payload)
    attributes = quick_str_map(payload.get("attributes"))
    room_config = payload.get("room_config")
    if texts is None or texts[0] is None or times is None or is_bad(attributes):
        return None
    if room_config is not None and type(room_config) is not dict:
        return None
    iss, sub, room, jti, role, name, aud, kind = texts
    iat, nbf, exp = times
    # tuple.__new__: the named tuple built directly, without the Python frame of its __new__
    # or _make (one per verified token); the fields in Claims' order
    metadata = payload.get("metadata")
    return tuple.__new__(
        Claims,
        (
            iss,
            sub,
            room,
            grant,
            iat,
            nbf,
            exp,
            jti,
            role,
            name,
            metadata,
            attributes,
            aud,
            kind,
            room_config,
        ),
    )


def _wire_grant(grant: Grant) -> dict[str, Any]:
    """``grant.to_dict()``, memoised: a copy of the remembered form (lists copied too)."""
    shared = _WIRE_GRANTS.get_or(grant, grant.to_dict)
    out = dict(shared)
    out["sources"] = list(shared["sources"])
    out["scope"] = list(shared["scope"])
    out["capabilities"] = list(shared["capabilities"])
    return out


def _read_grant(raw: Mapping[str, Any]) -> Grant:
    missing = [f for f in PERMISSION_FIELDS if f not in raw and f not in _OPTIONAL]
    if missing:
        raise MissingClaimError(
            f"grant field {missing[0]!r} is required", claim="grant." + missing[0]
        )
    flags = {f: opt_bool(raw, f, False, "grant.") for f in _BOOLS}
    try:
        return Grant(
            **flags,
            sources=parse_sources(str_list(raw, "sources") or []),
            join=parse_join(raw["join"]),
            scope=parse_scope(str_list(raw, "scope") or []),
            capabilities=parse_capabilities(str_list(raw, "capabilities") or []),
        )
    except InvalidGrantError as exc:
        raise InvalidClaimsError(f"grant is inconsistent: {exc.message}", claim="grant") from exc


DIALECT = NativeDialect()
