"""The wire protocol of a room's live events: close codes, limits, the transport, frames.

:mod:`roomkey.service.admission.stream` serves it:

- **Authentication**, never in the URL (URLs get logged): the handshake's
  ``Authorization: Bearer <credential>``, or a first message
  ``{"type": "auth", "session_token": "rks1..."}`` within ``auth_timeout_s`` (browsers cannot
  set headers). A session credential must name a live session of the URL's room; a server
  token (``{"type": "auth", "token": ...}`` or the header) with ``rooms:moderate`` for the room
  makes a *watcher*, who sees what admitters see. Success is answered with
  ``{"type": "ready", "session_id", "status", "last_seq"}``.
- **Resume**: ``since`` (the query string's ``?since=<seq>``, or the auth message's) replays
  what the socket missed; beyond the bus's buffer (or from a ``since`` the room never reached,
  as after a restart) a ``resync`` event carries the room's state and the seq to go on from.
- **Events** are sent as ``event.to_json()``, filtered by the session's grant; when an event
  ends the session (removed, replaced, rejected, left ...) the socket is closed after it.
- **Inbound**: ``{"type": "ping"}`` is answered ``{"type": "pong"}``; malformed JSON, a
  non-object, a missing or unknown ``type`` get an error frame
  (``{"type": "error", "error": code, "message", "details"}``, the API's error shape) and the
  socket stays open; an oversize frame or a flood closes it.
- **Slow consumers**: a socket whose queue overflows, or that cannot take a frame within
  ``send_timeout_s``, is closed (1013); the room never waits for it.

Close codes (:class:`CloseCode`): 1000 normal, 1009 frame too big, 1011 server error, 1013 slow
consumer, 4400 bad frame before authentication, 4401 unauthorized, 4403 forbidden, 4408 no
authentication in time, 4409 the session ended (removed or replaced), 4429 flood.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from roomkey.errors import BadFrameError, RoomkeyError


class CloseCode(IntEnum):
    """Why the server closed a socket (4xxx: roomkey's own, mirroring HTTP statuses)."""

    NORMAL = 1000
    TOO_BIG = 1009
    SERVER_ERROR = 1011
    SLOW_CONSUMER = 1013  # "try again later": reconnect with ``since``
    BAD_FRAME = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    AUTH_TIMEOUT = 4408
    ENDED = 4409  # removed or replaced: reconnecting will not help
    FLOOD = 4429


# What each close code tells the client (docs/api.md is generated from it).
CLOSE_MEANING: dict[CloseCode, str] = {
    CloseCode.NORMAL: "the session ended (left, rejected, cancelled, expired) or the stream closed",
    CloseCode.TOO_BIG: "a message was over the cap (an error frame `frame_too_large` first)",
    CloseCode.SERVER_ERROR: "the server failed (error frame `internal_error`); reconnect",
    CloseCode.SLOW_CONSUMER: "the socket did not keep up; reconnect with since",
    CloseCode.BAD_FRAME: "the first message was not an auth message, or since is not a seq",
    CloseCode.UNAUTHORIZED: "the credential is invalid, expired, ended, or of another room",
    CloseCode.FORBIDDEN: "a server token without rooms:moderate for the room",
    CloseCode.AUTH_TIMEOUT: "no auth message within the deadline",
    CloseCode.ENDED: "the session was removed or replaced: do not reconnect",
    CloseCode.FLOOD: "too many messages a second (an error frame `rate_limited` first)",
}


class TransportClosed(Exception):
    """The peer went away (raised by a :class:`Transport` on receive or send)."""


class Transport(Protocol):
    """The socket as the stream sees it; the route adapts its framework's WebSocket."""

    async def receive_text(self) -> str:
        """The next text message; raises :class:`TransportClosed` once the peer is gone."""
        ...

    async def send_json(self, message: Mapping[str, Any]) -> None:
        """Send one JSON text message; raises :class:`TransportClosed` once the peer is gone."""
        ...

    async def send_text(self, text: str) -> None:
        """Send one text message (JSON already encoded: an event is encoded once for every
        socket); raises :class:`TransportClosed` once the peer is gone."""
        ...

    async def close(self, code: int, reason: str = "") -> None:
        """Close the socket (a no-op when it is already closed)."""
        ...


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """The bounds of one socket."""

    auth_timeout_s: float = 5.0
    max_frame_bytes: int = 4096
    # inbound messages per second before the socket counts as a flood
    max_messages_per_s: int = 20
    send_timeout_s: float = 10.0


def error_frame(error: RoomkeyError) -> dict[str, Any]:
    """The frame reporting ``error``: the API's error shape, typed ``error``."""
    return {"type": "error", **error.to_dict()}


def parse_since(value: str | None) -> int | None:
    """The query string's ``since``; raises :class:`BadFrameError` when it is not a seq."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise BadFrameError("since is a sequence number >= 0", since=value[:32])
    return int(value)
