"""Where webhooks may be posted: the URL rule, and the address check done at creation and again
before every attempt (DNS can change between the two).

An endpoint URL is ``http`` or ``https`` with a host and no credentials. Unless the endpoint
allows private addresses (and the server lets endpoints do so), every address its host resolves
to must be a public unicast one: loopback, private (RFC 1918, unique-local), link-local (the
cloud metadata address 169.254.169.254 among them), shared, multicast, reserved and unspecified
addresses are refused, IPv4-mapped IPv6 addresses judged as the IPv4 address they carry. The
delivery then connects to the address that was checked, never resolving the name a second time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from roomkey.errors import WebhookUrlRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_CHARS = 2048
RESOLVE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: scheme, host (as written), port, and the path with its query."""

    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    """The parts of an endpoint URL; raises :class:`WebhookUrlRefusedError` naming the fault."""
    if len(url) > MAX_URL_CHARS:
        raise WebhookUrlRefusedError(f"the URL is longer than {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlRefusedError("a webhook URL is http:// or https://", url=url)
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRefusedError("a webhook URL carries no credentials (user:password@)")
    if not parts.hostname:
        raise WebhookUrlRefusedError("the webhook URL has no host", url=url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookUrlRefusedError("the webhook URL's port is not a number", url=url) from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path)


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved)


async def resolve(target: Target, allow_private: bool) -> list[IPAddress]:
    """The addresses ``target``'s host resolves to, each one allowed.

    Raises:
        WebhookUrlRefusedError: the host does not resolve, or an address is not public and
            private ones are not allowed (``details.address``).
    """
    addresses = await _lookup(target.host, target.port)
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise WebhookUrlRefusedError(
                    f"{target.host} resolves to {address}, a private, loopback or link-local "
                    "address; webhooks go to public addresses unless the endpoint allows "
                    "private ones (allow_private, where the server permits it)",
                    address=str(address),
                )
    return addresses


async def _lookup(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as exc:
        raise WebhookUrlRefusedError(f"{host} does not resolve: {exc}", host=host) from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise WebhookUrlRefusedError(f"{host} resolves to no address", host=host)
    return found


__all__ = ["Target", "is_public", "parse_url", "resolve"]
