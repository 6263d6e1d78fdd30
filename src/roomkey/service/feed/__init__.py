"""The change feed: every node applies every state write, one change at a time, in revision order.

The database is the source of truth and the log: each state write commits one row of
``changes`` per revision (gap-free, in commit order; see the store). A node holds the revision
its memory reflects (:attr:`ChangeFeed.applied`) and moves it forward only by applying the next
change, so its memory never goes backwards and no change is skipped:

- a change announced through Redis with the next revision is applied at once (the node reads the
  one thing it names);
- a change further ahead means some were missed (Redis restarted, a blip, a node just started):
  the node reads every change after its revision from the database and applies them in order;
- without Redis, or while it is down, the node reads the database every ``refresh_interval_s``
  (the same catch-up), so a change still arrives within that bound;
- a node so far behind that the rows it needs were purged reloads everything.

One task applies changes, so they are applied in order whatever their source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from roomkey.service.context import Context
from roomkey.service.feed.apply import ChangeApplier
from roomkey.service.feed.carrier import RedisCarrier
from roomkey.store import ChangeRecord

log = logging.getLogger("roomkey.feed")
PAGE = 1000  # changes read from the database at a time
RETENTION_S = 24 * 3600.0  # change rows kept for nodes that fall behind (then: a full reload)

_TICK = object()  # the inbox item that asks for a catch-up from the database


@dataclass
class FeedCounters:
    """Running totals, read by the metrics endpoint and /readyz."""

    applied_announced: int = 0
    applied_database: int = 0
    full_reloads: int = 0
    failures: int = 0
    last_lag_s: float = 0.0  # commit (on its node's clock) to applied here, last change


class ChangeFeed:
    """Applies the change feed to one node's memory."""

    def __init__(
        self,
        ctx: Context,
        applier: ChangeApplier,
        reload: Callable[[], Awaitable[int]],
        carrier_factory: Callable[[ChangeFeed], RedisCarrier] | None = None,
    ) -> None:
        self.ctx = ctx
        self.applier = applier
        self.applied = 0
        self.counters = FeedCounters()
        self._reload = reload
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._carrier_factory = carrier_factory
        self.carrier: RedisCarrier | None = None  # made at start: no connection before

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self, applied: int) -> None:
        """Begin at revision ``applied`` (what the start-up load reflects): apply, and poll."""
        self.applied = applied
        self.ctx.store.watch_changes(self._committed_here)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()), loop.create_task(self._poll())]
        if self._carrier_factory is not None:
            self.carrier = self._carrier_factory(self)
            self.carrier.start()

    async def close(self) -> None:
        """Stop applying and listening."""
        self.ctx.store.watch_changes(None)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.carrier is not None:
            await self.carrier.close()

    # ---- sources -------------------------------------------------------------------------

    def _committed_here(self, changes: Sequence[ChangeRecord]) -> None:
        if self.carrier is not None:
            self.carrier.announce(changes)
        self.received(list(changes))

    def received(self, changes: list[ChangeRecord]) -> None:
        """Changes announced (by Redis, or by this node's own commits): applied in order."""
        for change in changes:
            self._inbox.put_nowait(change)

    def request_catch_up(self) -> None:
        """Read the database for changes (Redis (re)connected, or a poll)."""
        self._inbox.put_nowait(_TICK)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.refresh_interval_s)
            if self._inbox.empty():
                self.request_catch_up()

    # ---- applying ------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                if item is _TICK:
                    await self.catch_up()
                elif item.rev == self.applied + 1:
                    await self._apply(item, announced=True)
                elif item.rev > self.applied:
                    await self.catch_up()
            except Exception as exc:  # the database is away: the next poll tries again
                self.counters.failures += 1
                log.warning("applying the change feed failed: %s", type(exc).__name__)

    async def catch_up(self) -> int:
        """Apply every change after :attr:`applied` from the database; how many.

        Reloads everything when the changes needed were purged. Raises StoreError.
        """
        done = 0
        while True:
            page = await self.ctx.store.changes_since(self.applied, limit=PAGE)
            if page and page[0].rev != self.applied + 1:
                return await self._full_reload()
            if not page:
                if await self.ctx.store.state_revision() > self.applied:
                    return await self._full_reload()  # every newer row was purged
                return done
            for change in page:
                await self._apply(change, announced=False)
            done += len(page)
            if len(page) < PAGE:
                return done

    async def _apply(self, change: ChangeRecord, *, announced: bool) -> None:
        async with self.ctx.write_lock:
            if change.rev != self.applied + 1:
                return  # applied meanwhile (a catch-up ran ahead of this announcement)
            follow_ups = await self.applier.apply(change)
            self.applied = change.rev
        self.counters.last_lag_s = max(0.0, time.time() - change.created_at)
        if announced:
            self.counters.applied_announced += 1
        else:
            self.counters.applied_database += 1
        for follow_up in follow_ups:
            try:
                follow_up()
            except Exception:  # a listener's failure must not stop the feed
                log.exception("a change listener failed")

    async def _full_reload(self) -> int:
        log.warning(
            "change feed: revisions after %d were purged; reloading everything", self.applied
        )
        self.counters.full_reloads += 1
        self.applied = await self._reload()
        return 0

    # ---- status --------------------------------------------------------------------------

    @property
    def redis(self) -> str:
        """``connected``, ``down`` (polling the database meanwhile) or ``off`` (no Redis)."""
        if self.carrier is None:
            return "off"
        return "connected" if self.carrier.connected else "down"

    def status(self) -> dict[str, Any]:
        """What /readyz shows of the feed."""
        return {
            "revision": self.applied,
            "redis": self.redis,
            "mode": "redis" if self.redis == "connected" else "polling",
            "poll_interval_s": self.ctx.settings.refresh_interval_s,
        }


__all__ = ["RETENTION_S", "ChangeApplier", "ChangeFeed", "FeedCounters", "RedisCarrier"]
