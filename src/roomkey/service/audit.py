"""Durable audit with group commit: every issuance waits for its row to be committed.

Concurrent issuances are batched into one transaction, so a thousand tokens a second cost a few
dozen commits, and a token is never handed out without its audit row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from roomkey.errors import AuditUnavailableError
from roomkey.store import AuditRecord, OutboxEvent, Store

log = logging.getLogger("roomkey.audit")


class AuditWriter:
    """Batches audit rows from concurrent requests into single commits."""

    def __init__(
        self,
        store: Store,
        batch_max: int = 256,
        events_for: Callable[[Sequence[AuditRecord]], list[OutboxEvent]] | None = None,
    ) -> None:
        self._store = store
        # token.issued webhook events for a batch, committed in the batch's transaction
        self.events_for = events_for
        self._batch_max = batch_max
        self._queue: list[tuple[AuditRecord, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # running totals (metrics): committed transactions and the rows they held
        self.commits = 0
        self.rows = 0

    def start(self) -> None:
        """Start the background writer (inside a running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def record(self, row: AuditRecord) -> None:
        """Queue ``row`` and return once it is committed; raises AuditUnavailableError."""
        if self._closing or self._task is None:
            raise AuditUnavailableError("the audit log is not accepting rows (shutting down)")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        self._wake.set()
        await future

    async def _run(self) -> None:
        while not (self._closing and not self._queue):
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = (
                    self._queue[: self._batch_max],
                    self._queue[self._batch_max :],
                )
                await self._commit(batch)

    async def _commit(self, batch: Sequence[tuple[AuditRecord, asyncio.Future[None]]]) -> None:
        rows = [row for row, _ in batch]
        try:
            events = self.events_for(rows) if self.events_for is not None else []
            if events:
                await self._store.insert_audit_many(rows, events=events)
            else:
                await self._store.insert_audit_many(rows)
        except Exception as exc:  # any failure: none of these tokens may be handed out
            log.error("audit commit of %d rows failed: %s", len(batch), type(exc).__name__)
            error = AuditUnavailableError("the audit log could not be written; try again")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.commits += 1
        self.rows += len(rows)
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def close(self) -> None:
        """Flush what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
