"""Redis pub/sub as the change feed's doorbell: each committed change, announced to every node.

A message carries the change itself (revision, project, kind, ref, commit time), never a value:
the receiving node reads the thing from the database, which stays the source of truth. Pub/sub
keeps nothing for a node that is not listening, so a message lost to a restart of Redis or a
network blip shows on the receiver as a gap in the revisions, which it fills from the database
(see :class:`~roomkey.service.feed.ChangeFeed`).

While Redis is unreachable the carrier retries with a capped backoff, drops what it cannot
publish (the other nodes poll the database meanwhile), and says so once in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import orjson
from redis.exceptions import RedisError

from roomkey.service.redis import RedisLink
from roomkey.store import ChangeRecord

log = logging.getLogger("roomkey.feed")
RETRY_MIN_S = 0.2
RETRY_MAX_S = 5.0
_PUBLISH_QUEUE = 10_000  # changes waiting to be published before new ones are dropped


def encode(changes: Sequence[ChangeRecord], node_id: str) -> bytes:
    """One message: the node that committed and its changes, as compact JSON arrays."""
    rows = [[c.rev, c.project_id, c.kind, c.ref, c.created_at] for c in changes]
    return orjson.dumps({"node": node_id, "changes": rows})


def decode(data: bytes | str) -> list[ChangeRecord]:
    """The changes of a message; raises ValueError (or KeyError, TypeError) if malformed."""
    body = orjson.loads(data)
    out = []
    for rev, project_id, kind, ref, created_at in body["changes"]:
        if not isinstance(rev, int) or kind not in _KINDS:
            raise ValueError("malformed change")
        out.append(ChangeRecord(rev, str(project_id), kind, str(ref), float(created_at)))
    return out


_KINDS = {"project", "key", "room", "role", "revocation", "ban"}


class RedisCarrier:
    """Publishes this node's changes and hands every node's changes to ``on_changes``."""

    def __init__(
        self,
        link: RedisLink,
        on_changes: Callable[[list[ChangeRecord]], None],
        on_connected: Callable[[], None],
    ) -> None:
        self.link = link
        self.channel = link.key("changes")
        self.connected = False
        self._reported = False  # the outage going on has been logged
        self.published = 0
        self.received = 0
        self.publish_failures = 0
        self._on_changes = on_changes
        self._on_connected = on_connected
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(_PUBLISH_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start listening and publishing (background tasks on the running loop)."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._publish())]

    async def close(self) -> None:
        """Stop both tasks and close the connections."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.link.close()

    def announce(self, changes: Sequence[ChangeRecord]) -> None:
        """Queue ``changes`` (just committed here) for publication; never blocks."""
        try:
            self._outbox.put_nowait(encode(changes, self.link.node_id))
        except asyncio.QueueFull:
            self.publish_failures += 1  # the others' polling reads it from the database

    async def _publish(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self.link.client.publish(self.channel, message)
                self.published += 1
            except (RedisError, OSError):
                self.publish_failures += 1  # Redis away: the listener reports and retries

    async def _listen(self) -> None:
        delay = RETRY_MIN_S
        while True:
            try:
                await self._subscribed()
            except (RedisError, OSError) as exc:
                if self.connected or not self._reported:  # once per outage, at start too
                    self._reported = True
                    log.warning(
                        "Redis unreachable (%s): this node now polls the database for changes",
                        type(exc).__name__,
                    )
                self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            if self.connected:
                delay = RETRY_MIN_S

    async def _subscribed(self) -> None:
        pubsub = self.link.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            if not self.connected:
                log.info("Redis connected: changes from other nodes arrive through it")
            self.connected, self._reported = True, False
            self._on_connected()  # whatever was missed meanwhile is read from the database
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None and message.get("type") == "message":
                    self._hand_over(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _hand_over(self, data: bytes) -> None:
        try:
            changes = decode(data)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed change message on %s", self.channel)
            return
        self.received += 1
        self._on_changes(changes)
