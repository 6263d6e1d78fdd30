"""What a server (``api``-scope) token may do on roomkey's own API: named capabilities.

A server token carries exactly the capabilities it names and no more; ``admin`` stands for all
of them. Participant rights (the rest of :class:`~roomkey.grants.Grant`) say what a holder may do
*inside* a room; capabilities say which management and token routes a holder may call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from roomkey.errors import InvalidGrantError


class Capability(StrEnum):
    """One right on the server API. Every route requires exactly one (or is public)."""

    # create, list, rotate, disable and delete API keys and signing keys
    KEYS = "keys"
    # read and change the project's settings
    PROJECT = "project"
    # list, read and validate rooms
    ROOMS_READ = "rooms:read"
    # create and deactivate rooms
    ROOMS_WRITE = "rooms:write"
    # list, store and delete custom roles
    ROLES = "roles"
    # mint tokens (participant tokens, and server tokens with a subset of one's own rights)
    TOKENS_ISSUE = "tokens:issue"
    # verify tokens on behalf of the project (fixes the project a verification is bound to)
    TOKENS_VERIFY = "tokens:verify"
    # create, list and lift revocations
    REVOCATIONS = "revocations"
    # read the audit log of issued tokens
    AUDIT_READ = "audit:read"
    # act on live rooms: mute, remove, admit from the lobby (of one room if the token names one)
    ROOMS_MODERATE = "rooms:moderate"
    # manage webhook endpoints
    WEBHOOKS = "webhooks"
    # every capability above, and creating projects from the bootstrap project
    ADMIN = "admin"


ALL_CAPABILITIES: frozenset[Capability] = frozenset(Capability)
NO_CAPABILITIES: frozenset[Capability] = frozenset()

# What VideoSDK's ``crawler`` role (its v2 server API: rooms and tokens) maps to. Never keys,
# project settings or admin.
CRAWLER_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.ROOMS_READ,
        Capability.ROOMS_WRITE,
        Capability.TOKENS_ISSUE,
        Capability.TOKENS_VERIFY,
    }
)

# LiveKit's server-API grants that roomkey gives a meaning to; the others (roomRecord,
# ingressAdmin, ...) mark a server token but give no roomkey capability.
LIVEKIT_FLAGS: Mapping[str, Capability] = {
    "roomCreate": Capability.ROOMS_WRITE,
    "roomList": Capability.ROOMS_READ,
}


def parse_capabilities(value: Iterable[str] | str | None) -> frozenset[Capability]:
    """Capabilities from a list or a comma string; raises InvalidGrantError for unknown names."""
    if value is None:
        return NO_CAPABILITIES
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    elif not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise InvalidGrantError("capabilities must be a list of names", field="capabilities")
    out = set()
    for item in value:
        try:
            out.add(Capability(item))
        except (ValueError, TypeError):
            allowed = ", ".join(c.value for c in Capability)
            raise InvalidGrantError(
                f"unknown capability {item!r} (allowed: {allowed})", field="capabilities"
            ) from None
    return frozenset(out)


def expand(capabilities: frozenset[Capability]) -> frozenset[Capability]:
    """Every capability ``capabilities`` confer (``admin`` confers all)."""
    return ALL_CAPABILITIES if Capability.ADMIN in capabilities else capabilities


def confers(capabilities: frozenset[Capability], needed: Capability) -> bool:
    """True when ``capabilities`` include ``needed``, directly or through ``admin``."""
    return needed in capabilities or Capability.ADMIN in capabilities


__all__ = [
    "ALL_CAPABILITIES",
    "CRAWLER_CAPABILITIES",
    "LIVEKIT_FLAGS",
    "NO_CAPABILITIES",
    "Capability",
    "confers",
    "expand",
    "parse_capabilities",
]
