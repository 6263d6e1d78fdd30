"""Turning ``token create`` flag values into what the minter takes.

``--grant k=v`` values are JSON when they parse (``true``, ``["cam"]``), text otherwise; a whole
JSON object is accepted too. ``--metadata`` is JSON when it parses, a plain string otherwise.
``--ttl`` takes ``90s``, ``15m``, ``2h``, ``1d`` or bare seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from roomkey.cli._common import UsageProblem
from roomkey.roles import CustomRole, lookup_preset, resolve_role

_TTL = re.compile(r"(\d+)\s*([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """Seconds from ``90s``, ``15m``, ``2h``, ``1d`` or ``900``."""
    match = _TTL.fullmatch(text.strip().lower())
    if match is None:
        raise UsageProblem(f"--ttl {text!r} is not a duration (use 90s, 15m, 2h, 1d or seconds)")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def json_or_text(text: str) -> Any:
    """``text`` parsed as JSON, or ``text`` itself when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def split_pair(item: str, flag: str) -> tuple[str, str]:
    """``("k", "v")`` from ``"k=v"``; anything else is a usage error."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UsageProblem(f"{flag} {item!r} must look like key=value")
    return key.strip(), value


def parse_grants(items: Sequence[str]) -> dict[str, Any]:
    """Merge every ``--grant`` (``k=v`` or a JSON object) into one mapping."""
    out: dict[str, Any] = {}
    for item in items:
        if item.lstrip().startswith("{"):
            value = json_or_text(item)
            if not isinstance(value, dict):
                raise UsageProblem(f"--grant {item!r} is neither key=value nor a JSON object")
            out.update(value)
        else:
            key, text = split_pair(item, "--grant")
            out[key] = json_or_text(text)
    return out


def parse_attributes(items: Sequence[str]) -> dict[str, str] | None:
    """The ``--attribute k=v`` pairs as a string map (None when there are none)."""
    if not items:
        return None
    return dict(split_pair(item, "--attribute") for item in items)


def permissions_from_flags(
    grants: Sequence[str],
    sources: str | None,
    join: str | None,
    scope: str | None,
    capabilities: str | None = None,
) -> dict[str, Any]:
    """One override mapping from ``--grant``, ``--sources``, ``--join``, ``--scope`` and
    ``--capabilities`` (which, without ``--scope``, makes a server-only token)."""
    permissions = parse_grants(grants)
    if capabilities is not None:
        permissions["capabilities"] = [c.strip() for c in capabilities.split(",") if c.strip()]
        if scope is None and "scope" not in permissions:
            scope = "api"
    if sources is not None:
        permissions["sources"] = [s.strip() for s in sources.split(",") if s.strip()]
    if join is not None:
        permissions["join"] = join
    if scope is not None:
        permissions["scope"] = scope
    return permissions


def role_and_overrides(
    role: str | None, permissions: dict[str, Any]
) -> tuple[str | CustomRole | None, dict[str, Any] | None]:
    """A preset name with overrides, or an inline custom role built from the permissions.

    A name that is not a preset becomes ``CustomRole.from_permissions(name, permissions)``:
    everything it does not name is denied. Without permissions it is an unknown role (with a
    "did you mean" hint), so a misspelt preset is never silently a custom role.
    """
    if role is None or lookup_preset(role) is not None:
        return role, permissions or None
    if not permissions:
        resolve_role(role)  # raises InvalidRoleError naming the closest preset
    return CustomRole.from_permissions(role, permissions), None


__all__ = [
    "json_or_text",
    "parse_attributes",
    "parse_grants",
    "parse_ttl",
    "permissions_from_flags",
    "role_and_overrides",
    "split_pair",
]
