"""The canonical permission model: one grant from which every wire format is produced.

A :class:`Grant` is immutable and always consistent: constructing one checks the invariants, so a
grant that exists can be written to any dialect that can express it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from roomkey._memo import Memo
from roomkey.capabilities import NO_CAPABILITIES, Capability, expand, parse_capabilities
from roomkey.errors import InvalidGrantError


class Source(StrEnum):
    """A kind of track a participant may publish."""

    CAM = "cam"
    MIC = "mic"
    SCREEN = "screen"
    SCREEN_AUDIO = "screen_audio"


class JoinMode(StrEnum):
    """How a participant enters: at once, or by waiting in the lobby for a moderator."""

    DIRECT = "direct"
    ASK = "ask"


class Scope(StrEnum):
    """What a token is for: joining a room, calling the server API, or both."""

    ROOM = "room"
    API = "api"


ALL_SOURCES: frozenset[Source] = frozenset(Source)

# Field names a caller may override, in canonical order (also the native wire order).
PERMISSION_FIELDS: tuple[str, ...] = (
    "admin",
    "can_consume",
    "can_produce",
    "sources",
    "can_send_data",
    "can_recv_data",
    "can_update_metadata",
    "join",
    "moderate",
    "hidden",
    "recorder",
    "scope",
    "capabilities",
)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a participant may do in a room. Build with :func:`make_grant` or a role preset."""

    # every action in the room; implies moderate
    admin: bool = False
    # subscribe to other participants' tracks
    can_consume: bool = True
    # publish tracks; when false, ``sources`` is empty
    can_produce: bool = True
    # which tracks may be published (non-empty exactly when can_produce)
    sources: frozenset[Source] = ALL_SOURCES
    # send and receive data messages
    can_send_data: bool = True
    can_recv_data: bool = True
    # change own name, metadata and attributes
    can_update_metadata: bool = True
    # enter at once, or wait in the lobby
    join: JoinMode = JoinMode.DIRECT
    # mute/unmute and remove others, admit from the lobby
    moderate: bool = False
    # invisible to other participants
    hidden: bool = False
    # a recording bot
    recorder: bool = False
    # participant token, server-API token, or both
    scope: frozenset[Scope] = field(default_factory=lambda: frozenset({Scope.ROOM}))
    # what a server (api-scope) token may do on roomkey's API; empty for participant tokens
    capabilities: frozenset[Capability] = NO_CAPABILITIES

    def __post_init__(self) -> None:
        _check_types(self)
        if self.admin and not self.moderate:
            object.__setattr__(self, "moderate", True)  # admin is a superset of moderate
        if not self.can_produce and self.sources:
            raise InvalidGrantError("sources are named while can_produce is false", field="sources")
        if self.can_produce and not self.sources:
            raise InvalidGrantError(
                "can_produce is true but no source is allowed; set can_produce false instead",
                field="sources",
            )
        if self.join is JoinMode.ASK and self.moderate:
            raise InvalidGrantError(
                "join 'ask' contradicts admin/moderate rights (a moderator admits others)",
                field="join",
            )
        if not self.scope:
            raise InvalidGrantError("scope must name room, api or both", field="scope")
        if self.capabilities and Scope.API not in self.scope:
            raise InvalidGrantError(
                "capabilities are rights on the server API: add 'api' to the scope",
                field="capabilities",
            )

    def replace(self, **changes: Any) -> Grant:
        """A copy with some fields changed (checked like a new grant)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with canonical field names; sources and scope sorted.

        Built once per distinct grant (the verify endpoint answers with it on every call) and
        copied out, lists included, so a caller may change what it gets.
        """
        out = _DICTS.get_or(self, self._build_dict).copy()
        for name in _SET_FIELDS:
            out[name] = out[name].copy()
        return out

    def _build_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in PERMISSION_FIELDS:
            value = getattr(self, name)
            if isinstance(value, frozenset):
                value = sorted(str(v) for v in value)
            elif isinstance(value, JoinMode):
                value = value.value
            out[name] = value
        return out

    def allows_at_most(self, other: Grant) -> bool:
        """True when this grant gives nothing that ``other`` does not."""
        bool_fields = (
            "admin",
            "can_consume",
            "can_produce",
            "can_send_data",
            "can_recv_data",
            "can_update_metadata",
            "moderate",
            "hidden",
            "recorder",
        )
        if any(getattr(self, f) and not getattr(other, f) for f in bool_fields):
            return False
        return (
            self.sources <= other.sources
            and self.scope <= other.scope
            and expand(self.capabilities) <= expand(other.capabilities)
        )


_BOOL_FIELDS = frozenset(
    {
        "admin",
        "can_consume",
        "can_produce",
        "can_send_data",
        "can_recv_data",
        "can_update_metadata",
        "moderate",
        "hidden",
        "recorder",
    }
)


def _check_types(grant: Grant) -> None:
    for name in _BOOL_FIELDS:
        if not isinstance(getattr(grant, name), bool):
            raise InvalidGrantError(f"{name} must be true or false", field=name)
    object.__setattr__(grant, "sources", parse_sources(grant.sources))
    object.__setattr__(grant, "scope", parse_scope(grant.scope))
    object.__setattr__(grant, "join", parse_join(grant.join))
    object.__setattr__(grant, "capabilities", parse_capabilities(grant.capabilities))


# Grant.to_dict's table, and the fields it holds as lists (copied on every call).
_DICTS: Memo[dict[str, Any]] = Memo()
_SET_FIELDS = ("sources", "scope", "capabilities")


def parse_sources(value: Iterable[str] | Mapping[str, bool] | str) -> frozenset[Source]:
    """Sources from a list (``["cam", "mic"]``), a comma string, or a ``{name: bool}`` map."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Mapping):
        for name, flag in value.items():
            if not isinstance(flag, bool):
                raise InvalidGrantError(f"source {name!r} must be true or false", field="sources")
        value = [name for name, flag in value.items() if flag]
    out = set()
    for item in _items(value, "sources", "a list of names, a comma-separated string or a map"):
        try:
            out.add(Source(item))
        except (ValueError, TypeError):
            allowed = ", ".join(s.value for s in Source)
            raise InvalidGrantError(
                f"unknown source {item!r} (allowed: {allowed})", field="sources"
            ) from None
    return frozenset(out)


def parse_scope(value: Iterable[str] | str) -> frozenset[Scope]:
    """Scope from ``"room"``, ``"api"``, ``"room,api"`` or a list of those."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, Mapping):
        raise InvalidGrantError("scope must be a list of names, not a map", field="scope")
    out = set()
    for item in _items(value, "scope", "a list of names or a comma-separated string"):
        try:
            out.add(Scope(item))
        except (ValueError, TypeError):
            raise InvalidGrantError(
                f"unknown scope {item!r} (allowed: room, api)", field="scope"
            ) from None
    return frozenset(out)


def _items(value: Iterable[Any], field: str, expected: str) -> Iterator[Any]:
    """An iterator over ``value``; raises InvalidGrantError naming ``field`` for a non-list."""
    try:
        return iter(value)
    except TypeError:
        raise InvalidGrantError(f"{field} must be {expected}", field=field) from None


def parse_join(value: object) -> JoinMode:
    """Join mode from ``"direct"`` or ``"ask"``."""
    try:
        return JoinMode(value if isinstance(value, str) else "")
    except ValueError:
        raise InvalidGrantError(
            f"unknown join mode {value!r} (allowed: direct, ask)", field="join"
        ) from None


__all__ = [
    "ALL_SOURCES",
    "PERMISSION_FIELDS",
    "Grant",
    "JoinMode",
    "Scope",
    "Source",
    "parse_join",
    "parse_scope",
    "parse_sources",
]
