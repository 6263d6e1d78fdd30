"""Webhooks: a project's endpoints, the transactional outbox of events, and their delivery.

Events of stored changes are written by the store in the change's own transaction (see
:mod:`.events`); admission events right after they happen (:mod:`.outbox`); the worker of every
node that delivers claims them and posts them (:mod:`.delivery`), signed in the Standard
Webhooks format or LiveKit's (:mod:`.requests`, :mod:`.livekit`), to addresses checked against
SSRF at creation and before each attempt (:mod:`.ssrf`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from roomkey.service.admission.events import Event
from roomkey.service.context import Context
from roomkey.service.webhooks.delivery import DeliveryPolicy, DeliveryWorker
from roomkey.service.webhooks.endpoints import EndpointChange, EndpointService
from roomkey.service.webhooks.events import (
    WebhookEvent,
    admission_kind,
    from_admission,
    outbox_event,
    token_data,
)
from roomkey.service.webhooks.outbox import EventWriter, Subscriptions
from roomkey.service.webhooks.requests import RequestBuilder
from roomkey.store import (
    AuditRecord,
    DeliveryRecord,
    DeliveryStatus,
    NotFoundError,
    OutboxEvent,
    WebhookEndpointRecord,
    WebhookFormat,
)

log = logging.getLogger("roomkey.webhooks")
REFRESH_S = 5.0  # how often a node re-reads which projects want which events
PURGE_S = 3600.0


def policy_of(ctx: Context) -> DeliveryPolicy:
    """The delivery policy the node's settings give."""
    s = ctx.settings
    return DeliveryPolicy(
        timeout_s=s.webhook_timeout_s,
        lease_s=s.webhook_lease_s,
        max_attempts=s.webhook_max_attempts,
        backoff_s=s.webhook_backoff_s,
        backoff_max_s=s.webhook_backoff_max_s,
        concurrency=s.webhook_concurrency,
        poll_s=s.webhook_poll_s,
        max_response_bytes=s.webhook_max_response_bytes,
    )


class WebhookService:
    """Endpoints, the delivery log and this node's writer and worker."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.endpoints = EndpointService(ctx)
        self.subscriptions = Subscriptions()
        self.writer = EventWriter(ctx.store, self.wake)
        build = RequestBuilder(ctx.state, self.endpoints.signing_secrets)
        self.worker = DeliveryWorker(ctx.store, build, policy_of(ctx), clock=ctx.clock)
        self._upkeep: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def start(self) -> None:
        """Read the subscriptions, start the writer and (if this node delivers) the worker."""
        await self.refresh()
        self.writer.start()
        if self.ctx.settings.webhook_delivery:
            self.worker.start()
        self._upkeep = asyncio.get_running_loop().create_task(self._upkeeping())

    async def close(self) -> None:
        """Write queued events, stop the worker (its claims released)."""
        self._closing.set()  # the upkeep loop ends between its reads (never cancelled in one)
        if self._upkeep is not None:
            await self._upkeep
        await self.writer.close()
        if self.ctx.settings.webhook_delivery:
            await self.worker.close()

    def wake(self) -> None:
        """Tell the worker that events were just written."""
        self.worker.wake()

    async def refresh(self) -> None:
        """Re-read which projects want which events (changes made on other nodes)."""
        self.subscriptions.load(await self.ctx.store.list_webhooks())

    # ---- endpoints -------------------------------------------------------------------------

    async def create(
        self,
        project_id: str,
        url: str,
        *,
        event_types: Sequence[str] | None = None,
        enabled: bool = True,
        format: WebhookFormat = "standard",
        allow_private: bool = False,
        livekit_key: str | None = None,
        description: str = "",
    ) -> tuple[WebhookEndpointRecord, str]:
        """A new endpoint and its secret (shown once); see :meth:`EndpointService.create`."""
        created = await self.endpoints.create(
            project_id,
            url,
            event_types=event_types,
            enabled=enabled,
            format=format,
            allow_private=allow_private,
            livekit_key=livekit_key,
            description=description,
        )
        await self.refresh()
        return created

    async def get(self, project_id: str, endpoint_id: str) -> WebhookEndpointRecord:
        """One endpoint; raises NotFoundError."""
        return await self.endpoints.get(project_id, endpoint_id)

    async def list_endpoints(self, project_id: str) -> list[WebhookEndpointRecord]:
        """The project's endpoints."""
        return await self.endpoints.list_endpoints(project_id)

    async def update(
        self, project_id: str, endpoint_id: str, change: EndpointChange
    ) -> WebhookEndpointRecord:
        """Change an endpoint; see :meth:`EndpointService.update`."""
        updated = await self.endpoints.update(project_id, endpoint_id, change)
        await self.refresh()
        self.wake()  # re-enabled: its queue may be due
        return updated

    async def rotate(
        self, project_id: str, endpoint_id: str, overlap_s: int
    ) -> tuple[WebhookEndpointRecord, str]:
        """A new secret, the old one signing alongside for ``overlap_s``; raises NotFoundError."""
        return await self.endpoints.rotate(project_id, endpoint_id, overlap_s)

    async def delete(self, project_id: str, endpoint_id: str) -> None:
        """Delete an endpoint and its log; raises NotFoundError."""
        await self.endpoints.delete(project_id, endpoint_id)
        await self.refresh()

    # ---- the delivery log ------------------------------------------------------------------

    async def deliveries(
        self,
        project_id: str,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[DeliveryRecord], str | None]:
        """A page of an endpoint's deliveries, newest first; raises NotFoundError."""
        await self.endpoints.get(project_id, endpoint_id)
        return await self.ctx.store.list_deliveries(
            project_id, endpoint_id=endpoint_id, status=status, limit=limit, cursor=cursor
        )

    async def redeliver(
        self, project_id: str, endpoint_id: str, delivery_id: int
    ) -> DeliveryRecord:
        """Send a delivery's event again (a new delivery at the end of the endpoint's queue).

        Raises NotFoundError (no such delivery of this endpoint).
        """
        old = await self.ctx.store.get_delivery(project_id, delivery_id)
        if old is None or old.endpoint_id != endpoint_id:
            raise NotFoundError(f"delivery {delivery_id} does not exist", resource="delivery")
        again = await self.ctx.store.redeliver(project_id, delivery_id, now=self.ctx.now())
        self.wake()
        return again

    # ---- events from elsewhere -------------------------------------------------------------

    def on_admission_event(self, event: Event) -> None:
        """The admission service's listener: queue the webhook event of a room-stream event."""
        kind = admission_kind(event)  # a few dict lookups: it runs inside every publish
        if kind is not None and self.subscriptions.wants(event.project_id, kind.value):
            self.writer.add(from_admission(event, kind))

    def token_events(self, rows: Sequence[AuditRecord]) -> list[OutboxEvent]:
        """``token.issued`` events for the audit rows of projects that want them."""
        kind = WebhookEvent.TOKEN_ISSUED
        return [
            outbox_event(row.project_id, kind, token_data(row), row.issued_at)
            for row in rows
            if self.subscriptions.wants(row.project_id, kind.value)
        ]

    async def _upkeeping(self) -> None:
        since_purge = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), REFRESH_S)
            if self._closing.is_set():
                return
            since_purge += REFRESH_S
            try:
                await self.refresh()
                if since_purge >= PURGE_S:
                    since_purge = 0.0
                    before = self.ctx.now() - self.ctx.settings.webhook_retention_s
                    await self.ctx.store.purge_webhook_log(before)
            except Exception as exc:  # tried again at the next tick
                log.warning("webhook upkeep failed: %s", type(exc).__name__)


__all__ = ["EndpointChange", "WebhookService"]
