"""Small builders for records, so tests state only what they are about."""

from __future__ import annotations

import secrets
from typing import Any

from roomkey.store import (
    AuditRecord,
    BanRecord,
    ClaimedDelivery,
    DeliveryRecord,
    KeyRecord,
    OutboxEvent,
    ProjectRecord,
    RevocationRecord,
    RoleRecord,
    RoomRecord,
    WebhookEndpointRecord,
)

NOW = 1_700_000_000


def project(project_id: str = "p1", **kw: Any) -> ProjectRecord:
    return ProjectRecord(
        **{"id": project_id, "name": f"Project {project_id}", "created_at": NOW, **kw}
    )


def key(kid: str | None = None, project_id: str = "p1", **kw: Any) -> KeyRecord:
    values: dict[str, Any] = {
        "kid": kid or f"APIkey{secrets.token_hex(6)}",
        "project_id": project_id,
        "alg": "HS256",
        "purpose": "api",
        "secret_ciphertext": b"\x01" + secrets.token_bytes(60),
        "created_at": NOW,
    }
    return KeyRecord(**{**values, **kw})


def room(room_id: str | None = None, project_id: str = "p1", **kw: Any) -> RoomRecord:
    return RoomRecord(
        **{"id": room_id or new_room_id(), "project_id": project_id, "created_at": NOW, **kw}
    )


def new_room_id() -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "-".join("".join(secrets.choice(letters) for _ in range(4)) for _ in range(3))


def role(name: str = "presenter", project_id: str = "p1", **kw: Any) -> RoleRecord:
    values: dict[str, Any] = {
        "project_id": project_id,
        "name": name,
        "permissions": {"can_produce": True, "sources": ["mic", "screen"]},
        "created_at": NOW,
        "updated_at": NOW,
    }
    return RoleRecord(**{**values, **kw})


def revocation(rev_id: str | None = None, project_id: str = "p1", **kw: Any) -> RevocationRecord:
    values: dict[str, Any] = {
        "id": rev_id or f"rv_{secrets.token_hex(6)}",
        "project_id": project_id,
        "kind": "jti",
        "jti": secrets.token_hex(8),
        "created_at": NOW,
        "expires_at": NOW + 900,
    }
    return RevocationRecord(**{**values, **kw})


def audit(jti: str | None = None, project_id: str = "p1", **kw: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "project_id": project_id,
        "jti": jti or secrets.token_hex(8),
        "kid": "APIkey1",
        "dialect": "livekit",
        "endpoint": "/v1/tokens",
        "issued_at": NOW,
        "expires_at": NOW + 900,
        "room": "abcd-efgh-ijkl",
        "identity": "alice",
        "role": "presenter",
        "caller": "APIkey1",
    }
    return AuditRecord(**{**values, **kw})


def ban(identity: str = "mallory", room_id: str = "abcd-efgh-ijkl", **kw: Any) -> BanRecord:
    values: dict[str, Any] = {
        "id": f"ban_{secrets.token_hex(6)}",
        "project_id": "p1",
        "room": room_id,
        "identity": identity,
        "created_at": NOW,
    }
    return BanRecord(**{**values, **kw})


def webhook(endpoint_id: str = "whk_1", project_id: str = "p1", **kw: Any) -> WebhookEndpointRecord:
    values: dict[str, Any] = {
        "id": endpoint_id,
        "project_id": project_id,
        "url": "https://hooks.example.com/roomkey",
        "event_types": ["room.created", "key.created"],
        "secret_ciphertext": b"\x01" + secrets.token_bytes(40),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return WebhookEndpointRecord(**{**values, **kw})


def outbox_event(
    event_type: str = "room.created", project_id: str = "p1", **kw: Any
) -> OutboxEvent:
    values: dict[str, Any] = {
        "id": f"evt_{secrets.token_hex(6)}",
        "project_id": project_id,
        "type": event_type,
        "payload": {"type": event_type, "data": {"n": 1}},
        "created_at": NOW,
    }
    return OutboxEvent(**{**values, **kw})


def claimed(delivery_id: int = 1, claim: str = "n:1") -> ClaimedDelivery:
    """A claim as the worker holds it (for calls that take one)."""
    delivery = DeliveryRecord(
        id=delivery_id,
        event_seq=1,
        event_id="evt_1",
        event_type="x",
        endpoint_id="whk_1",
        project_id="p1",
        status="pending",
        attempts=0,
        next_attempt_at=NOW,
        created_at=NOW,
    )
    return ClaimedDelivery(delivery, outbox_event("x"), webhook(), claim)
