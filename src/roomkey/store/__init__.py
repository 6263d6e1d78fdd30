"""Storage for the roomkey server: projects, keys, rooms, roles, revocations, bans, audit and
webhooks.

Open a store with ``store = await open_store("sqlite:///./.roomkey/roomkey.db")`` (or a
``postgresql://`` URL); it migrates the schema on open. Use it through the :class:`Store`
protocol and close it with ``await store.close()``. ``upgrade(url)`` migrates without opening.
"""

from roomkey.store.errors import ConflictError, InvalidCursorError, NotFoundError, StoreError
from roomkey.store.migrate import current_revision, head_revision, upgrade
from roomkey.store.protocol import Store
from roomkey.store.records import (
    BAN_REF_SEPARATOR,
    ActiveRevocations,
    AuditRecord,
    BanRecord,
    ChangeKind,
    ChangeRecord,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    EventsFor,
    KeyAlg,
    KeyPurpose,
    KeyRecord,
    KeyStatus,
    OutboxEvent,
    ProjectRecord,
    ProjectSettings,
    RevocationKind,
    RevocationRecord,
    RoleRecord,
    RoomRecord,
    WebhookEndpointRecord,
    WebhookFormat,
)
from roomkey.store.sql import SqlStore, open_store
from roomkey.store.url import StoreURL, parse_store_url, to_async_url

__all__ = [
    "BAN_REF_SEPARATOR",
    "ActiveRevocations",
    "AuditRecord",
    "BanRecord",
    "ChangeKind",
    "ChangeRecord",
    "ClaimedDelivery",
    "ConflictError",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStatus",
    "EventsFor",
    "InvalidCursorError",
    "KeyAlg",
    "KeyPurpose",
    "KeyRecord",
    "KeyStatus",
    "NotFoundError",
    "OutboxEvent",
    "ProjectRecord",
    "ProjectSettings",
    "RevocationKind",
    "RevocationRecord",
    "RoleRecord",
    "RoomRecord",
    "SqlStore",
    "Store",
    "StoreError",
    "StoreURL",
    "WebhookEndpointRecord",
    "WebhookFormat",
    "current_revision",
    "head_revision",
    "open_store",
    "parse_store_url",
    "to_async_url",
    "upgrade",
]
