"""The events of a room's stream: ``{"seq", "type", "room", "at", ...}``, sequenced per room."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class EventType(StrEnum):
    """Every event type a room's stream carries."""

    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    LOBBY_KNOCK = "lobby_knock"
    LOBBY_ADMITTED = "lobby_admitted"
    LOBBY_REJECTED = "lobby_rejected"
    LOBBY_CANCELLED = "lobby_cancelled"
    MUTED = "muted"
    UNMUTE_REQUESTED = "unmute_requested"
    REMOVED = "removed"
    PERMISSIONS_UPDATED = "permissions_updated"
    PARTICIPANT_UPDATED = "participant_updated"
    TOKEN_REFRESHED = "token_refreshed"
    TOKEN_EXPIRING = "token_expiring"
    ROOM_LOCKED = "room_locked"
    ROOM_UNLOCKED = "room_unlocked"
    ROOM_DEACTIVATED = "room_deactivated"
    REPLACED = "replaced"
    RESYNC = "resync"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives an event: everyone admitted (hidden participants' events only to those who
    may moderate), those who may admit, or named sessions only."""

    # every admitted session of the room
    everyone: bool = False
    # sessions that may admit from the lobby (and server watchers with rooms:moderate)
    admitters: bool = False
    # these sessions, whatever else is set
    sessions: frozenset[str] = frozenset()


EVERYONE = Audience(everyone=True)
ADMITTERS = Audience(admitters=True)


def only(*session_ids: str) -> Audience:
    """An audience of the named sessions."""
    return Audience(sessions=frozenset(session_ids))


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a room's stream; ``seq`` is given by the bus when it is published."""

    type: EventType
    room: str
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)
    audience: Audience = EVERYONE
    seq: int = 0
    # the project the room belongs to (never sent; streams are per project and room)
    project_id: str = ""
    # the message as sent, encoded once by the bus when it is published ("" before)
    text: str = field(default="", repr=False)

    def to_json(self) -> dict[str, Any]:
        """The message a socket receives."""
        head = {"seq": self.seq, "type": self.type.value, "room": self.room, "at": self.at}
        return {**self.data, **head}

    def encode(self) -> str:
        """:meth:`to_json` as JSON text (the bus encodes each event once, in :attr:`text`)."""
        return self.text or orjson.dumps(self.to_json()).decode("utf-8")
