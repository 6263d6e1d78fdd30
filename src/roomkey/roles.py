"""Role presets, custom roles, and deep-merging a caller's overrides over a role.

A role is only a named starting set of permissions. The presets match the table in
docs/architecture.md exactly; ``screen_audio`` follows ``screen`` (the table has no column of
its own for it).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from roomkey.errors import InvalidGrantError, InvalidRoleError
from roomkey.grants import (
    ALL_SOURCES,
    PERMISSION_FIELDS,
    Grant,
    JoinMode,
    Scope,
    Source,
    parse_join,
    parse_scope,
    parse_sources,
)

MAX_ROLE_NAME = 20


class Role(StrEnum):
    """The six preset roles, spelt as the seed documents spell them."""

    HOST = "host"
    CO_HOST = "coHost"
    GUEST = "guest"
    SPEAKER = "speaker"
    LISTENER = "listener"
    BOT = "bot"


_AUDIO_ONLY = frozenset({Source.MIC})
_NONE: frozenset[Source] = frozenset()

PRESETS: Mapping[Role, Grant] = {
    Role.HOST: Grant(admin=True, moderate=True),
    Role.CO_HOST: Grant(admin=True, moderate=True),
    Role.GUEST: Grant(),
    Role.SPEAKER: Grant(sources=_AUDIO_ONLY),
    Role.LISTENER: Grant(can_produce=False, sources=_NONE),
    Role.BOT: Grant(
        can_produce=False,
        sources=_NONE,
        can_send_data=False,
        can_recv_data=False,
        can_update_metadata=False,
    ),
}

# The starting set of a custom role: nothing is granted that the role does not name.
DENY_ALL = Grant(
    can_consume=False,
    can_produce=False,
    sources=_NONE,
    can_send_data=False,
    can_recv_data=False,
    can_update_metadata=False,
)

# The starting set of a server-API token minted without a role: no media rights at all.
# (Receiving data stays on because LiveKit cannot say otherwise; it means nothing to the API.)
API_ONLY = Grant(
    can_consume=False,
    can_produce=False,
    sources=_NONE,
    can_send_data=False,
    can_recv_data=True,
    can_update_metadata=False,
    scope=frozenset({Scope.API}),
)

# Aliases a caller may use for canonical fields (Huddle01's and LiveKit's spellings).
ALIASES: Mapping[str, str] = {
    "canConsume": "can_consume",
    "canSubscribe": "can_consume",
    "canProduce": "can_produce",
    "canPublish": "can_produce",
    "canProduceSources": "sources",
    "canPublishSources": "sources",
    "canSendData": "can_send_data",
    "canPublishData": "can_send_data",
    "canRecvData": "can_recv_data",
    "canUpdateMetadata": "can_update_metadata",
    "canUpdateOwnMetadata": "can_update_metadata",
    "roomAdmin": "admin",
}
_CANONICAL = PERMISSION_FIELDS


@dataclass(frozen=True, slots=True)
class CustomRole:
    """A named permission set. Fields it does not name are denied."""

    name: str
    grant: Grant

    @classmethod
    def from_permissions(cls, name: str, permissions: Mapping[str, Any]) -> CustomRole:
        """Build a custom role. Raises :class:`InvalidRoleError` on a bad name or no permissions."""
        check_role_name(name)
        if not isinstance(permissions, Mapping) or not permissions:
            raise InvalidRoleError(
                f"custom role {name!r} needs explicit permissions", field="permissions"
            )
        return cls(name=name, grant=merge_overrides(DENY_ALL, permissions))


def check_role_name(name: object) -> str:
    """Refuse names that are empty, too long, or not printable."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRoleError("role name must be a non-empty string", field="role")
    if len(name) > MAX_ROLE_NAME:
        raise InvalidRoleError(
            f"role name {name[:24]!r} is longer than {MAX_ROLE_NAME} characters", field="role"
        )
    if not name.isprintable():
        raise InvalidRoleError("role name contains control characters", field="role")
    return name


_PRESET_BY_VALUE = {role.value: role for role in Role}
_PRESET_BY_FOLDED = {role.value.lower(): role for role in Role}


def lookup_preset(name: str) -> Role | None:
    """The preset named ``name`` in any common spelling (``coHost``, ``CO_HOST``, ``co-host``)."""
    exact = _PRESET_BY_VALUE.get(name)
    if exact is not None:
        return exact
    return _PRESET_BY_FOLDED.get(name.replace("_", "").replace("-", "").lower())


def resolve_role(
    role: Role | CustomRole | str, custom_roles: Mapping[str, CustomRole] | None = None
) -> tuple[str, Grant]:
    """The role's name and starting grant. Raises :class:`InvalidRoleError` if unknown."""
    if isinstance(role, CustomRole):
        return role.name, role.grant
    if isinstance(role, Role):
        return role.value, PRESETS[role]
    if custom_roles and role in custom_roles:
        return role, custom_roles[role].grant
    preset = lookup_preset(role) if isinstance(role, str) else None
    if preset is None:
        known = [r.value for r in Role] + sorted(custom_roles or ())
        hint = difflib.get_close_matches(str(role), known, n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(known)})"
        raise InvalidRoleError(f"unknown role {role!r}{suffix}", field="role")
    return preset.value, PRESETS[preset]


def canonical_key(key: str) -> str:
    """Map an override key to its canonical name, or raise naming the likely intended key."""
    if key in _CANONICAL:
        return key
    if key in ALIASES:
        return ALIASES[key]
    hint = difflib.get_close_matches(key, [*_CANONICAL, *ALIASES], n=1)
    suffix = f"; did you mean {hint[0]!r}?" if hint else ""
    raise InvalidGrantError(f"unknown permission {key!r}{suffix}", field=key)


def merge_overrides(base: Grant, overrides: Mapping[str, Any] | None) -> Grant:
    """Deep-merge ``overrides`` over ``base`` and return the checked grant.

    ``sources`` given as a map merges with the base's sources (unnamed ones are kept); given as a
    list it replaces them. Turning produce off clears the sources; naming sources while turning
    produce off in the same request is a contradiction and is refused.
    """
    if not overrides:
        return base
    fields = {canonical_key(k): v for k, v in overrides.items()}
    sources = _merged_sources(base, fields)
    produce = fields.get("can_produce")
    if "can_produce" in fields and not isinstance(produce, bool):  # null is no answer either
        raise InvalidGrantError("can_produce must be true or false", field="can_produce")
    changes = {k: v for k, v in fields.items() if k not in ("sources", "can_produce")}
    if "join" in changes:
        changes["join"] = parse_join(changes["join"])
    if "scope" in changes:
        changes["scope"] = parse_scope(changes["scope"])
    turned_on = _sources_turned_on(fields.get("sources"))
    changes.update(_produce_and_sources(base, produce, sources, turned_on))
    _refuse_ask_with_moderation(base, fields, changes)
    return base.replace(**changes)


def _merged_sources(base: Grant, fields: Mapping[str, Any]) -> frozenset[Source] | None:
    if "sources" not in fields:
        return None
    value = fields["sources"]
    if isinstance(value, Mapping):
        merged = {s.value: s in base.sources for s in ALL_SOURCES}
        named = {s.value: flag for s, flag in _source_map(value).items()}
        merged.update(named)
        return parse_sources(merged)
    if value is None:
        raise InvalidGrantError("sources must be a list or a map, not null", field="sources")
    return parse_sources(value)


def _source_map(value: Mapping[str, Any]) -> dict[Source, bool]:
    out: dict[Source, bool] = {}
    for name, flag in value.items():
        if not isinstance(flag, bool):
            raise InvalidGrantError(f"source {name!r} must be true or false", field="sources")
        (source,) = parse_sources([name])
        out[source] = flag
    return out


def _sources_turned_on(value: Any) -> bool:
    """Whether the request itself allows some source (a map only turning sources off doesn't)."""
    if value is None:
        return False
    if isinstance(value, Mapping):
        return any(flag is True for flag in value.values())
    return bool(parse_sources(value))


def _produce_and_sources(
    base: Grant, produce: bool | None, sources: frozenset[Source] | None, turned_on: bool
) -> dict[str, Any]:
    if produce is False:
        if turned_on:
            raise InvalidGrantError(
                "sources are named while can_produce is set false in the same request",
                field="sources",
            )
        return {"can_produce": False, "sources": frozenset()}
    if produce is True:
        chosen = sources if sources is not None else (base.sources or ALL_SOURCES)
        if not chosen:
            raise InvalidGrantError(
                "can_produce is set true but every source is turned off", field="sources"
            )
        return {"can_produce": True, "sources": chosen}
    if sources is not None:
        return {"can_produce": bool(sources), "sources": sources}
    return {}


def _refuse_ask_with_moderation(
    base: Grant, fields: Mapping[str, Any], changes: Mapping[str, Any]
) -> None:
    if changes.get("join", base.join) is not JoinMode.ASK:
        return
    admin = changes.get("admin", base.admin)
    moderate = changes.get("moderate", base.moderate) or admin
    if moderate:
        why = "requested" if ("moderate" in fields or "admin" in fields) else "given by the role"
        raise InvalidGrantError(
            f"join 'ask' contradicts moderate/admin rights ({why}): a moderator admits others",
            field="join",
        )


__all__ = [
    "ALIASES",
    "API_ONLY",
    "DENY_ALL",
    "MAX_ROLE_NAME",
    "PRESETS",
    "CustomRole",
    "Role",
    "canonical_key",
    "check_role_name",
    "lookup_preset",
    "merge_overrides",
    "resolve_role",
]
