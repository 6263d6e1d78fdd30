"""The node's Redis connection, when the settings name one: what several nodes share.

PostgreSQL stays the source of truth; Redis carries what must reach every node fast (the change
feed's doorbell, live room events) and what must be counted once for all of them (rate limits).
Every key and channel is under the deployment's namespace (``redis_namespace``), so two
deployments can share one Redis server.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field

from redis.asyncio import Redis

from roomkey.service.settings import ServerSettings

# how long a command may take before the node treats Redis as unreachable
REDIS_TIMEOUT_S = 2.0


def new_node_id() -> str:
    """A name for this process, unique across restarts: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class RedisLink:
    """One node's Redis client and the names of its deployment's keys and channels."""

    client: Redis
    namespace: str
    node_id: str = field(default_factory=new_node_id)

    def key(self, *parts: str) -> str:
        """A key or channel name under the namespace: ``<namespace>:<part>:<part>…``."""
        return ":".join((self.namespace, *parts))

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()


def open_redis(settings: ServerSettings) -> RedisLink | None:
    """The node's Redis link, or None without ``redis_url`` (no connection is made yet:
    a node starts while Redis is down and catches up when it returns)."""
    if settings.redis_url is None:
        return None
    client = Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        health_check_interval=10,
    )
    return RedisLink(client, settings.redis_namespace)


def shown_url(url: str) -> str:
    """``url`` without its password, for logs and errors."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"
