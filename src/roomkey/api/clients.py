"""The client address of a request: the socket peer, or what trusted proxies say it was.

Limits per client address (the sandbox, unauthenticated verification) are only as good as the
address: ``X-Forwarded-For`` is whatever the client wrote, except for the entries that proxies
the operator trusts appended. So the header is read only when the socket peer is one of the
``trusted_proxies``, and then from the right: the first entry that is not itself a trusted
proxy is the address the nearest trusted proxy saw.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_ADDRESS_CHARS = 64  # an address is a counter's key: bounded, whatever a header holds


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.168.1.7"`` as networks (a bare address is a /32 or /128).

    Raises ValueError naming the first entry that is not an address or a network.
    """
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return tuple(networks)


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _forwarded_for(scope: Scope) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
    return [h for h in hops if h]


def client_address(scope: Scope, trusted: tuple[Network, ...] = ()) -> str:
    """The address a request came from (see the module docstring); ``"unknown"`` without one."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = _forwarded_for(scope)
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:_MAX_ADDRESS_CHARS]
    return hops[0][:_MAX_ADDRESS_CHARS] if hops else peer


__all__ = ["Network", "client_address", "parse_networks"]
