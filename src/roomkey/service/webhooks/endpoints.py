"""Webhook endpoints of a project: created (secret shown once), listed, changed, rotated,
deleted. Secrets are sealed at rest with the server's secret box, like API key secrets."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from roomkey.errors import ConfigurationError, ForbiddenError, InvalidClaimValueError
from roomkey.service.context import Context
from roomkey.service.ids import new_id
from roomkey.service.webhooks import ssrf
from roomkey.service.webhooks.events import DEFAULT_TYPES, WebhookEvent
from roomkey.service.webhooks.livekit import LIVEKIT_TYPES
from roomkey.store import NotFoundError, WebhookEndpointRecord, WebhookFormat
from roomkey.webhooks import new_secret

MAX_OVERLAP_S = 30 * 24 * 3600
DEFAULT_OVERLAP_S = 24 * 3600
WILDCARD = "*"


@dataclasses.dataclass(frozen=True, slots=True)
class EndpointChange:
    """What an update changes (``None``: unchanged)."""

    url: str | None = None
    event_types: Sequence[str] | None = None
    enabled: bool | None = None
    format: WebhookFormat | None = None
    allow_private: bool | None = None
    livekit_key: str | None = None
    description: str | None = None


class EndpointService:
    """Create, read, change, rotate and delete a project's endpoints."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

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
        """A new endpoint and its secret (shown this once).

        Raises:
            NotFoundError: no such project.
            WebhookUrlRefusedError: the URL is not usable, or resolves where it may not post.
            ForbiddenError: ``allow_private`` while the server does not permit it.
            InvalidClaimValueError: an unknown event type, or one the format cannot carry.
            ConfigurationError: a LiveKit-format endpoint without a usable API key.
        """
        self.ctx.project(project_id)
        endpoint_id, secret, now = new_id("whk"), new_secret(), self.ctx.now()
        record = WebhookEndpointRecord(
            id=endpoint_id,
            project_id=project_id,
            url=url,
            event_types=[],
            secret_ciphertext=self._seal(endpoint_id, secret),
            created_at=now,
            updated_at=now,
            enabled=enabled,
            format=format,
            allow_private=allow_private,
            livekit_key=livekit_key,
            description=description,
        )
        record = await self._checked(record, event_types)
        return await self.ctx.store.create_webhook(record), secret

    async def get(self, project_id: str, endpoint_id: str) -> WebhookEndpointRecord:
        """One endpoint of the project; raises NotFoundError."""
        record = await self.ctx.store.get_webhook(project_id, endpoint_id)
        if record is None:
            raise NotFoundError(f"webhook {endpoint_id!r} does not exist", resource="webhook")
        return record

    async def list_endpoints(self, project_id: str) -> list[WebhookEndpointRecord]:
        """The project's endpoints, oldest first."""
        self.ctx.project(project_id)
        return await self.ctx.store.list_webhooks(project_id)

    async def update(
        self, project_id: str, endpoint_id: str, change: EndpointChange
    ) -> WebhookEndpointRecord:
        """Apply ``change``; raises what :meth:`create` raises, and NotFoundError."""
        old = await self.get(project_id, endpoint_id)
        values = {
            k: v
            for k, v in dataclasses.asdict(change).items()
            if v is not None and k != "event_types"
        }
        record = dataclasses.replace(old, **values, updated_at=self.ctx.now())
        types = change.event_types if change.event_types is not None else old.event_types
        if change.format is not None and change.event_types is None and change.format != old.format:
            types = [WILDCARD]  # a new format re-resolves the subscription
        return await self.ctx.store.update_webhook(await self._checked(record, types))

    async def rotate(
        self, project_id: str, endpoint_id: str, overlap_s: int = DEFAULT_OVERLAP_S
    ) -> tuple[WebhookEndpointRecord, str]:
        """A new secret; the old one keeps signing beside it for ``overlap_s`` seconds.

        Raises NotFoundError, ConfigurationError (overlap out of range).
        """
        if not 0 <= overlap_s <= MAX_OVERLAP_S:
            raise ConfigurationError(f"overlap_s must be between 0 and {MAX_OVERLAP_S}")
        old, secret, now = await self.get(project_id, endpoint_id), new_secret(), self.ctx.now()
        record = dataclasses.replace(
            old,
            secret_ciphertext=self._seal(endpoint_id, secret),
            previous_secret_ciphertext=old.secret_ciphertext if overlap_s else None,
            previous_expires_at=now + overlap_s if overlap_s else None,
            updated_at=now,
        )
        return await self.ctx.store.update_webhook(record), secret

    async def delete(self, project_id: str, endpoint_id: str) -> None:
        """Delete an endpoint and its delivery log; raises NotFoundError."""
        await self.ctx.store.delete_webhook(project_id, endpoint_id)

    def signing_secrets(self, record: WebhookEndpointRecord, now: float) -> list[str]:
        """The secrets that sign a delivery now: the current one, then the previous one while
        its overlap lasts."""
        found = [self._open(record.id, record.secret_ciphertext)]
        previous, until = record.previous_secret_ciphertext, record.previous_expires_at
        if previous is not None and until is not None and until > now:
            found.append(self._open(record.id, previous))
        return found

    async def _checked(
        self, record: WebhookEndpointRecord, event_types: Sequence[str] | None
    ) -> WebhookEndpointRecord:
        if record.allow_private and not self.ctx.settings.webhook_allow_private:
            raise ForbiddenError(
                "this server does not let webhooks post to private addresses "
                "(its operator can permit it: ROOMKEY_WEBHOOK_ALLOW_PRIVATE=true)"
            )
        await ssrf.resolve(ssrf.parse_url(record.url), record.allow_private)
        types = resolve_types(event_types, record.format)
        livekit_key = self._livekit_key(record) if record.format == "livekit" else None
        return dataclasses.replace(record, event_types=types, livekit_key=livekit_key)

    def _livekit_key(self, record: WebhookEndpointRecord) -> str:
        state = self.ctx.state
        if record.livekit_key is not None:
            key = state.keys.get(record.livekit_key)
            if key is None or key.project_id != record.project_id or key.purpose != "api":
                raise ConfigurationError(
                    f"livekit_key {record.livekit_key!r} is not an active API key of the project"
                )
            return key.kid
        keys = [
            k
            for k in state.keys.values()
            if k.project_id == record.project_id and k.purpose == "api"
        ]
        if not keys:
            raise ConfigurationError("a LiveKit-format webhook needs an active API key to sign")
        return max(keys, key=lambda k: (k.created_at, k.kid)).kid

    def _seal(self, endpoint_id: str, secret: str) -> bytes:
        return self.ctx.box.encrypt(secret.encode(), key_id=f"webhook:{endpoint_id}")

    def _open(self, endpoint_id: str, sealed: bytes) -> str:
        return self.ctx.box.decrypt(sealed, key_id=f"webhook:{endpoint_id}").decode()


def resolve_types(requested: Sequence[str] | None, format: WebhookFormat) -> list[str]:
    """The stored subscription: ``*`` (or none named) is every default type; the LiveKit
    format carries only the types LiveKit has.

    Raises InvalidClaimValueError (an unknown type, or one the format cannot carry).
    """
    names = list(requested) if requested else [WILDCARD]
    allowed = set(LIVEKIT_TYPES) if format == "livekit" else set(WebhookEvent)
    chosen: list[str] = []
    for name in names:
        if name == WILDCARD:
            expanded = [t.value for t in DEFAULT_TYPES if t in allowed]
            chosen += [t for t in expanded if t not in chosen]
            continue
        if name not in {t.value for t in WebhookEvent}:
            known = ", ".join(t.value for t in WebhookEvent)
            raise InvalidClaimValueError(
                f"unknown webhook event type {name!r} (known: {known}, or *)", field="event_types"
            )
        if WebhookEvent(name) not in allowed:
            raise InvalidClaimValueError(
                f"LiveKit's webhook format has no {name!r} event", field="event_types"
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


__all__ = ["EndpointChange", "EndpointService", "resolve_types"]
