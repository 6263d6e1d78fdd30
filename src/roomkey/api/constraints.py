"""JSON Schema for what the request models cannot derive: built from the core's own tables.

A published constraint must never be stricter than the server (a client would refuse what the
server accepts, and a fuzzer would see invalid data accepted): each fragment below is exactly
what the server checks, or looser where the rest is a rule the operation documents
(:mod:`roomkey.api.rules`).
"""

from __future__ import annotations

from typing import Any

from pydantic.config import JsonDict, JsonValue

from roomkey.capabilities import Capability
from roomkey.grants import PERMISSION_FIELDS, JoinMode, Scope, Source
from roomkey.roles import ALIASES

_BOOL_FIELDS = frozenset(PERMISSION_FIELDS) - {"sources", "join", "scope", "capabilities"}


def _names(values: list[str], *also: dict[str, Any]) -> dict[str, Any]:
    """A list of ``values`` or a comma-separated string of them (and any ``also``)."""
    array = {"type": "array", "items": {"enum": values}}
    return {"anyOf": [array, {"type": "string", "description": "comma-separated"}, *also]}


_SOURCES = [s.value for s in Source]
_SCHEMAS: dict[str, dict[str, Any]] = {
    "sources": _names(
        _SOURCES,
        {
            "type": "object",
            "propertyNames": {"enum": _SOURCES},
            "additionalProperties": {"type": "boolean"},
            "description": "merged over the role's sources",
        },
    ),
    "join": {"enum": [m.value for m in JoinMode]},
    "scope": _names([s.value for s in Scope]),
    "capabilities": _names([c.value for c in Capability], {"type": "null"}),
}


def _permission(name: str) -> dict[str, Any]:
    canonical = ALIASES.get(name, name)
    if canonical in _BOOL_FIELDS:
        return {"type": "boolean"}
    schema = dict(_SCHEMAS[canonical])
    if name != canonical:
        schema["description"] = f"alias of {canonical}"
    return schema


PERMISSIONS: dict[str, Any] = {
    "type": "object",
    "properties": {name: _permission(name) for name in (*PERMISSION_FIELDS, *ALIASES)},
    "additionalProperties": False,
    "description": "Permission overrides by name (LiveKit and Huddle01 spellings are aliases); "
    "merged deeply over the role. Contradictions are refused (400 `invalid_grant`).",
}


def one_target(targets: tuple[str, ...], *, together: dict[str, str]) -> list[JsonValue]:
    """``oneOf`` branches: exactly one of ``targets`` given (not null), except that each key
    of ``together`` may come with its value (an identity with a room)."""
    branches: list[JsonValue] = []
    for target in targets:
        others = [t for t in targets if t != target and together.get(target) != t]
        properties: JsonDict = {target: {"not": {"type": "null"}}}
        properties.update({other: {"type": "null"} for other in others})
        branches.append({"required": [target], "properties": properties})
    return branches


# A pagination cursor is what a page's next_cursor held: base64url text, no padding.
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
# A role name has a character other than whitespace (and at most 20 characters).
ROLE_NAME_PATTERN = r"\S"

__all__ = ["CURSOR_PATTERN", "PERMISSIONS", "ROLE_NAME_PATTERN", "one_target"]
