"""Events that report no stored change, and which projects want which events.

Admission state lives in memory, so its events (joined, left, knocks, decisions, removals) have
no transaction to join: :class:`EventWriter` writes them in transactions of their own, right
after they happen, a batch at a time. Once written they are delivered at least once, like every
other event; an event still queued when the process dies is lost with the live state it
reported (a node that dies ends its sessions anyway). When the database is away, the queue
holds at most ``max_queued`` events, dropping the oldest (counted in ``dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable

from roomkey.store import OutboxEvent, Store, WebhookEndpointRecord

log = logging.getLogger("roomkey.webhooks")
BATCH_MAX = 500
MAX_QUEUED = 10_000
RETRY_S = 1.0


class Subscriptions:
    """The event types each project's enabled endpoints want, as this node last read them.

    Read on hot paths (a join, a token issued) to skip writing events no endpoint wants; the
    transaction's own fan-out decides who gets an event that is written.
    """

    def __init__(self) -> None:
        self._by_project: dict[str, frozenset[str]] = {}

    def wants(self, project_id: str, event_type: str) -> bool:
        """Whether an enabled endpoint of the project lists ``event_type``."""
        return event_type in self._by_project.get(project_id, ())

    def load(self, endpoints: Iterable[WebhookEndpointRecord]) -> None:
        """Replace what is known with ``endpoints`` (every project's)."""
        found: dict[str, set[str]] = {}
        for endpoint in endpoints:
            if endpoint.enabled:
                found.setdefault(endpoint.project_id, set()).update(endpoint.event_types)
        self._by_project = {p: frozenset(types) for p, types in found.items()}


class EventWriter:
    """Writes queued events in batches, each batch one transaction (see the module docstring)."""

    def __init__(
        self, store: Store, written: Callable[[], None], max_queued: int = MAX_QUEUED
    ) -> None:
        self._store, self._written = store, written
        self._queue: deque[OutboxEvent] = deque(maxlen=max_queued)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0

    def add(self, event: OutboxEvent) -> None:
        """Queue ``event`` for the next batch."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(event)
        self._wake.set()

    def start(self) -> None:
        """Start writing (inside a running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-events")

    async def close(self) -> None:
        """Write what is queued (one try), then stop (never cancelled inside a write)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> int:
        """Write every queued event now; how many. Raises StoreError (the batch stays queued)."""
        written = 0
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH_MAX, len(self._queue)))]
            try:
                await self._store.add_webhook_events(batch)
            except Exception:
                self._queue.extendleft(reversed(batch))  # first again (the oldest may drop)
                raise
            written += len(batch)
        if written:
            self._written()
        return written

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self.flush()
            except Exception as exc:  # kept queued; tried again shortly
                log.warning("writing webhook events failed: %s", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), RETRY_S)
                self._wake.set()


__all__ = ["EventWriter", "Subscriptions"]
