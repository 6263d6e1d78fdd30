"""The storage interface the service layer depends on; :class:`~roomkey.store.sql.SqlStore` is
the implementation for SQLite and PostgreSQL.

Conventions: ``get_*`` return ``None`` for a missing row; mutations of a missing row raise
:class:`~roomkey.store.errors.NotFoundError`; duplicate writes raise
:class:`~roomkey.store.errors.ConflictError`; every other failure is a
:class:`~roomkey.store.errors.StoreError`. All times are epoch seconds passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from roomkey.store.records import (
    ActiveRevocations,
    AuditRecord,
    BanRecord,
    ChangeRecord,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    EventsFor,
    KeyRecord,
    KeyStatus,
    OutboxEvent,
    ProjectRecord,
    ProjectSettings,
    RevocationRecord,
    RoleRecord,
    RoomRecord,
    WebhookEndpointRecord,
)


class Store(Protocol):
    """Async persistence for projects, keys, rooms, roles, revocations, bans, the audit log and
    webhooks (endpoints, the outbox, deliveries)."""

    # ---- lifecycle -------------------------------------------------------------------------
    async def ping(self) -> None: ...
    async def close(self) -> None: ...
    async def state_revision(self) -> int: ...
    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]: ...

    # ---- the change feed (one row per state revision; see ChangeRecord) ---------------------
    def watch_changes(self, listener: Callable[[Sequence[ChangeRecord]], None] | None) -> None: ...
    async def changes_since(self, rev: int, *, limit: int = 1000) -> list[ChangeRecord]: ...
    async def purge_changes(self, before: float) -> int: ...

    # ---- projects --------------------------------------------------------------------------
    async def create_project(self, project: ProjectRecord) -> ProjectRecord: ...
    async def get_project(self, project_id: str) -> ProjectRecord | None: ...
    async def list_projects(self) -> list[ProjectRecord]: ...
    async def update_project_settings(
        self, project_id: str, settings: ProjectSettings
    ) -> ProjectRecord: ...

    # ---- keys (secret_ciphertext is sealed by the caller; the store never sees plaintext) --
    async def create_key(
        self, key: KeyRecord, *, events: EventsFor[KeyRecord] | None = None
    ) -> KeyRecord: ...
    async def rotate_key(
        self,
        new_key: KeyRecord,
        *,
        old_expires_at: int | None,
        events: EventsFor[KeyRecord] | None = None,
    ) -> KeyRecord: ...
    async def get_key(self, kid: str) -> KeyRecord | None: ...
    async def list_keys(self, project_id: str) -> list[KeyRecord]: ...
    async def list_all_active_keys(self, *, now: int | None = None) -> list[KeyRecord]: ...
    async def update_key_status(
        self,
        kid: str,
        status: KeyStatus,
        *,
        now: int,
        events: EventsFor[KeyRecord] | None = None,
    ) -> KeyRecord: ...
    async def set_key_expiry(self, kid: str, expires_at: int | None) -> KeyRecord: ...
    async def delete_key(self, kid: str) -> None: ...

    # ---- rooms -----------------------------------------------------------------------------
    async def create_room(
        self, room: RoomRecord, *, events: EventsFor[RoomRecord] | None = None
    ) -> tuple[RoomRecord, bool]: ...
    async def get_room(self, project_id: str, id_or_custom_id: str) -> RoomRecord | None: ...
    async def list_rooms(
        self, project_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[RoomRecord], str | None]: ...
    async def list_all_rooms(self, *, active_only: bool = False) -> list[RoomRecord]: ...
    async def deactivate_room(
        self,
        project_id: str,
        room_id: str,
        *,
        now: int,
        events: EventsFor[RoomRecord] | None = None,
    ) -> RoomRecord: ...
    async def set_room_locked(self, project_id: str, room_id: str, locked: bool) -> RoomRecord: ...

    # ---- roles -----------------------------------------------------------------------------
    async def upsert_role(self, role: RoleRecord) -> RoleRecord: ...
    async def get_role(self, project_id: str, name: str) -> RoleRecord | None: ...
    async def list_roles(self, project_id: str) -> list[RoleRecord]: ...
    async def delete_role(self, project_id: str, name: str) -> None: ...

    # ---- revocations -----------------------------------------------------------------------
    async def add_revocation(
        self, revocation: RevocationRecord, *, events: EventsFor[RevocationRecord] | None = None
    ) -> RevocationRecord: ...
    async def lift_revocation(
        self,
        project_id: str,
        revocation_id: str,
        *,
        now: int,
        events: EventsFor[RevocationRecord] | None = None,
    ) -> RevocationRecord: ...
    async def get_revocation(
        self, project_id: str, revocation_id: str
    ) -> RevocationRecord | None: ...
    async def list_revocations(
        self, project_id: str, *, include_lifted: bool = False
    ) -> list[RevocationRecord]: ...
    async def list_active_revocations(self, now: int) -> list[RevocationRecord]: ...
    # the same in bulk, by project, for a node's start
    async def load_active_revocations(self, now: int) -> dict[str, ActiveRevocations]: ...
    async def purge_revocations(self, now: int) -> int: ...

    # ---- bans (``room`` is always the room's id) -------------------------------------------
    async def add_ban(
        self, ban: BanRecord, *, events: EventsFor[BanRecord] | None = None
    ) -> BanRecord: ...
    async def lift_ban(
        self, project_id: str, room: str, identity: str, *, now: int
    ) -> BanRecord: ...
    async def get_ban(self, project_id: str, room: str, identity: str) -> BanRecord | None: ...
    async def list_bans(
        self, project_id: str, *, room: str | None = None, include_lifted: bool = False
    ) -> list[BanRecord]: ...
    async def list_all_live_bans(self) -> list[BanRecord]: ...

    # ---- audit -----------------------------------------------------------------------------
    async def insert_audit_many(
        self, rows: Sequence[AuditRecord], *, events: Sequence[OutboxEvent] = ()
    ) -> None: ...
    async def list_audit(
        self,
        project_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        room: str | None = None,
        identity: str | None = None,
        kid: str | None = None,
        issued_from: int | None = None,
        issued_until: int | None = None,
    ) -> tuple[list[AuditRecord], str | None]: ...
    async def count_audit(
        self, project_id: str, *, room: str | None = None, identity: str | None = None
    ) -> int: ...

    # ---- webhooks (secrets sealed by the caller; events fan out to deliveries on write) ---
    async def create_webhook(self, endpoint: WebhookEndpointRecord) -> WebhookEndpointRecord: ...
    async def get_webhook(
        self, project_id: str, endpoint_id: str
    ) -> WebhookEndpointRecord | None: ...
    async def list_webhooks(self, project_id: str | None = None) -> list[WebhookEndpointRecord]: ...
    async def update_webhook(self, endpoint: WebhookEndpointRecord) -> WebhookEndpointRecord: ...
    async def delete_webhook(self, project_id: str, endpoint_id: str) -> None: ...
    async def add_webhook_events(self, events: Sequence[OutboxEvent]) -> int: ...
    async def claim_deliveries(
        self, *, claim: str, now: float, lease_s: float, limit: int
    ) -> list[ClaimedDelivery]: ...
    async def finish_delivery(
        self,
        delivery_id: int,
        claim: str,
        *,
        now: float,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> bool: ...
    async def finish_and_claim_next(
        self,
        claimed: ClaimedDelivery,
        *,
        now: float,
        lease_s: float,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> tuple[bool, ClaimedDelivery | None]: ...
    async def finish_many(
        self, outcomes: Sequence[DeliveryOutcome], *, now: float, lease_s: float
    ) -> list[tuple[bool, ClaimedDelivery | None]]: ...
    async def release_deliveries(self, claims: Sequence[str]) -> int: ...
    async def list_deliveries(
        self,
        project_id: str,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[DeliveryRecord], str | None]: ...
    async def get_delivery(self, project_id: str, delivery_id: int) -> DeliveryRecord | None: ...
    async def redeliver(self, project_id: str, delivery_id: int, *, now: int) -> DeliveryRecord: ...
    async def purge_webhook_log(self, before: int) -> int: ...


__all__ = ["Store"]
