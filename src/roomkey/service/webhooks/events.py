"""The webhook events roomkey sends, and the payload of each.

Every body is ``{"id", "type", "timestamp", "project", "data"}`` (Standard Webhooks' suggested
shape); ``id`` is also the ``webhook-id`` header. Events of stored changes (rooms, keys,
revocations, bans, issued tokens) are built here and handed to the store, which writes them in
the change's own transaction. Admission events come from the live admission service
(:func:`from_admission`); they report no stored change and are written right after they happen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from roomkey.service.admission.events import Event, EventType
from roomkey.service.ids import new_id
from roomkey.store import (
    AuditRecord,
    BanRecord,
    EventsFor,
    KeyRecord,
    OutboxEvent,
    RevocationRecord,
    RoomRecord,
)


class WebhookEvent(StrEnum):
    """Every event type an endpoint can subscribe to."""

    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    PARTICIPANT_REMOVED = "participant.removed"
    PARTICIPANT_BANNED = "participant.banned"
    LOBBY_KNOCK = "lobby.knock"
    LOBBY_ADMITTED = "lobby.admitted"
    LOBBY_REJECTED = "lobby.rejected"
    ROOM_CREATED = "room.created"
    ROOM_DEACTIVATED = "room.deactivated"
    KEY_CREATED = "key.created"
    KEY_ROTATED = "key.rotated"
    KEY_DISABLED = "key.disabled"
    REVOCATION_CREATED = "revocation.created"
    REVOCATION_LIFTED = "revocation.lifted"
    TOKEN_ISSUED = "token.issued"


# sent only to endpoints that name it (one event per issued token)
OPT_IN = frozenset({WebhookEvent.TOKEN_ISSUED})
# what "*" subscribes to
DEFAULT_TYPES = tuple(t for t in WebhookEvent if t not in OPT_IN)

_FROM_ADMISSION = {
    EventType.PARTICIPANT_JOINED: WebhookEvent.PARTICIPANT_JOINED,
    EventType.PARTICIPANT_LEFT: WebhookEvent.PARTICIPANT_LEFT,
    EventType.REMOVED: WebhookEvent.PARTICIPANT_REMOVED,
    EventType.LOBBY_KNOCK: WebhookEvent.LOBBY_KNOCK,
    EventType.LOBBY_ADMITTED: WebhookEvent.LOBBY_ADMITTED,
    EventType.LOBBY_REJECTED: WebhookEvent.LOBBY_REJECTED,
}
# fields of a room's stream that never leave for a webhook (a platform token is a credential)
_PRIVATE = frozenset({"participant_token", "token", "seq"})


def outbox_event(
    project_id: str, kind: WebhookEvent, data: Mapping[str, Any], at: float
) -> OutboxEvent:
    """One event with a new id, its body built (``timestamp`` ISO 8601 UTC)."""
    event_id = new_id("evt")
    stamp = dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")
    payload = {
        "id": event_id,
        "type": kind.value,
        "timestamp": stamp.replace("+00:00", "Z"),
        "project": project_id,
        "data": dict(data),
    }
    return OutboxEvent(event_id, project_id, kind.value, payload, int(at))


def room_data(room: RoomRecord) -> dict[str, Any]:
    """A room as events show it."""
    return {
        "room_id": room.id,
        "custom_room_id": room.custom_id,
        "metadata": room.metadata,
        "max_participants": room.max_participants,
        "active": room.active,
        "created_at": room.created_at,
        "deactivated_at": room.deactivated_at,
    }


def key_data(key: KeyRecord) -> dict[str, Any]:
    """A key as events show it (never its secret)."""
    return {
        "kid": key.kid,
        "purpose": key.purpose,
        "alg": key.alg,
        "status": key.status,
        "description": key.description,
        "rotated_from": key.rotated_from,
        "expires_at": key.expires_at,
    }


def revocation_data(revocation: RevocationRecord) -> dict[str, Any]:
    """A revocation as events show it."""
    fields = ("id", "kind", "jti", "identity", "room", "kid", "issued_before", "reason")
    data = {name: getattr(revocation, name) for name in fields}
    return {**data, "created_at": revocation.created_at, "lifted_at": revocation.lifted_at}


def ban_data(ban: BanRecord) -> dict[str, Any]:
    """A ban as events show it."""
    return {
        "room_id": ban.room,
        "identity": ban.identity,
        "reason": ban.reason,
        "by": ban.created_by,
        "created_at": ban.created_at,
    }


def token_data(row: AuditRecord) -> dict[str, Any]:
    """An issued token as events show it (its audit row: never the token itself)."""
    fields = ("jti", "kid", "room", "identity", "role", "dialect", "endpoint", "caller")
    data = {name: getattr(row, name) for name in fields}
    return {**data, "issued_at": row.issued_at, "expires_at": row.expires_at}


def on_room(kind: WebhookEvent, at: float) -> EventsFor[RoomRecord]:
    """The ``events`` callable for a room write."""
    return lambda room: [outbox_event(room.project_id, kind, room_data(room), at)]


def on_key(kind: WebhookEvent, at: float) -> EventsFor[KeyRecord]:
    """The ``events`` callable for a key write."""
    return lambda key: [outbox_event(key.project_id, kind, key_data(key), at)]


def on_revocation(kind: WebhookEvent, at: float) -> EventsFor[RevocationRecord]:
    """The ``events`` callable for a revocation write."""
    return lambda rev: [outbox_event(rev.project_id, kind, revocation_data(rev), at)]


def on_ban(at: float) -> EventsFor[BanRecord]:
    """The ``events`` callable for a ban."""
    kind = WebhookEvent.PARTICIPANT_BANNED
    return lambda ban: [outbox_event(ban.project_id, kind, ban_data(ban), at)]


def admission_kind(event: Event) -> WebhookEvent | None:
    """The webhook type of a room-stream event, or None for those webhooks do not carry.

    ``lobby_admitted`` is published twice (to the waiter, with its platform token, and to the
    admitters): only the admitters' copy becomes a webhook.
    """
    kind = _FROM_ADMISSION.get(event.type)
    if kind is None or not event.project_id:
        return None
    if event.type is EventType.LOBBY_ADMITTED and not event.audience.admitters:
        return None
    return kind


def from_admission(event: Event, kind: WebhookEvent) -> OutboxEvent:
    """The webhook event of a room-stream event of type ``kind`` (see :func:`admission_kind`);
    fields that are credentials stay out."""
    data = {k: v for k, v in event.data.items() if k not in _PRIVATE}
    return outbox_event(event.project_id, kind, {"room": event.room, **data}, event.at)


__all__ = [
    "DEFAULT_TYPES",
    "OPT_IN",
    "WebhookEvent",
    "admission_kind",
    "ban_data",
    "from_admission",
    "key_data",
    "on_ban",
    "on_key",
    "on_revocation",
    "on_room",
    "outbox_event",
    "revocation_data",
    "room_data",
    "token_data",
]
