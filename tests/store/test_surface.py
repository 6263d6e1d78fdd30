"""The public surface of roomkey.store, pinned: changing it is a deliberate act."""

from __future__ import annotations

from store_factories import key

import roomkey.store
from roomkey.errors import RoomkeyError
from roomkey.store import ConflictError, InvalidCursorError, NotFoundError, StoreError

EXPECTED = {
    "ActiveRevocations",
    "BAN_REF_SEPARATOR",
    "ChangeKind",
    "ChangeRecord",
    "AuditRecord",
    "BanRecord",
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
}


def test_public_names_are_pinned() -> None:
    assert set(roomkey.store.__all__) == EXPECTED
    assert all(hasattr(roomkey.store, name) for name in EXPECTED)


def test_error_codes_are_stable() -> None:
    codes = {
        cls: cls.code for cls in (StoreError, NotFoundError, ConflictError, InvalidCursorError)
    }
    assert codes == {
        StoreError: "store_error",
        NotFoundError: "not_found",
        ConflictError: "conflict",
        InvalidCursorError: "invalid_cursor",
    }
    assert all(issubclass(cls, RoomkeyError) for cls in codes)


def test_key_record_repr_hides_ciphertext() -> None:
    record = key("k1", secret_ciphertext=b"\x01SEALEDBYTES")
    assert "SEALEDBYTES" not in repr(record)
