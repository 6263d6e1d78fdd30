"""LiveKit's webhook format, for receivers built on LiveKit's server SDKs.

LiveKit posts ``application/webhook+json`` bodies (its ``WebhookEvent`` message as JSON) with
``Authorization: <JWT>``: HS256 with one of the project's API keys, ``iss`` the key, and the
claim ``sha256`` holding the base64 SHA-256 of the body. ``livekit.api.WebhookReceiver``
verifies exactly that. Only events LiveKit has are sent in this format:

=====================  ======================
roomkey                LiveKit
=====================  ======================
participant.joined     participant_joined
participant.left       participant_left
room.created           room_started
room.deactivated       room_finished
=====================  ======================

LiveKit starts a room when its first participant connects and finishes it when it empties or is
deleted; roomkey reports creating and deactivating the room record, the nearest it knows.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from roomkey.jws import encode
from roomkey.keys import HmacKey
from roomkey.service.webhooks.events import WebhookEvent
from roomkey.store import OutboxEvent

CONTENT_TYPE = "application/webhook+json"
TOKEN_TTL_S = 300
LIVEKIT_EVENTS = {
    WebhookEvent.PARTICIPANT_JOINED: "participant_joined",
    WebhookEvent.PARTICIPANT_LEFT: "participant_left",
    WebhookEvent.ROOM_CREATED: "room_started",
    WebhookEvent.ROOM_DEACTIVATED: "room_finished",
}
LIVEKIT_TYPES = tuple(LIVEKIT_EVENTS)


def livekit_body(event: OutboxEvent) -> bytes:
    """The LiveKit ``WebhookEvent`` JSON of ``event`` (int64 fields as strings, as LiveKit's
    own JSON has them)."""
    kind = WebhookEvent(event.type)
    data: dict[str, Any] = event.payload.get("data", {})
    message: dict[str, Any] = {
        "event": LIVEKIT_EVENTS[kind],
        "id": event.id,
        "createdAt": str(event.created_at),
    }
    if kind in (WebhookEvent.ROOM_CREATED, WebhookEvent.ROOM_DEACTIVATED):
        message["room"] = _room(data)
    else:
        message["room"] = {"name": str(data.get("room", "")), "sid": str(data.get("room", ""))}
        message["participant"] = _participant(kind, data)
    return orjson.dumps(message)


def _room(data: dict[str, Any]) -> dict[str, Any]:
    room: dict[str, Any] = {
        "sid": str(data.get("room_id", "")),
        "name": str(data.get("custom_room_id") or data.get("room_id") or ""),
        "creationTime": str(data.get("created_at") or 0),
        "metadata": orjson.dumps(data.get("metadata") or {}).decode(),
    }
    if data.get("max_participants"):
        room["maxParticipants"] = int(data["max_participants"])
    return room


def _participant(kind: WebhookEvent, data: dict[str, Any]) -> dict[str, Any]:
    joined = kind is WebhookEvent.PARTICIPANT_JOINED
    person = data.get("participant", data) if joined else data
    participant = {
        "sid": str(person.get("session_id", "")),
        "identity": str(person.get("identity", "")),
        "name": str(person.get("name") or ""),
        "state": "ACTIVE" if joined else "DISCONNECTED",
    }
    if joined and person.get("joined_at"):
        participant["joinedAt"] = str(int(person["joined_at"]))
    return participant


def livekit_authorization(key: HmacKey, body: bytes, now: int) -> str:
    """The ``Authorization`` JWT of a LiveKit-format delivery of ``body``."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    claims = {"iss": key.kid, "nbf": now, "exp": now + TOKEN_TTL_S, "sha256": digest}
    return encode(claims, key, kid=False)


__all__ = [
    "CONTENT_TYPE",
    "LIVEKIT_EVENTS",
    "LIVEKIT_TYPES",
    "livekit_authorization",
    "livekit_body",
]
