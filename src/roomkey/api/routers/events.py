"""``GET /v1/rooms/{room}/events``: a room's live events over a WebSocket.

The protocol (authentication, resume, frames, close codes) is
:mod:`roomkey.service.admission.protocol`'s; this route adapts Starlette's socket to it and wires
it to ``service.admission`` (its ``authenticate_session``, ``bus``, ``snapshot``, ``attach``,
``detach`` and ``admit_policy``) and to the caller pipeline for watchers (a server token with
``rooms:moderate`` for the room). The socket is accepted before anything is checked, so that
every refusal reaches the client as an error frame and a close code, not a bare HTTP 403.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from roomkey.api.deps import authorization_header
from roomkey.api.middleware import RAW_SEND
from roomkey.capabilities import Capability
from roomkey.errors import InternalServerError, RoomkeyError
from roomkey.service import RoomkeyService
from roomkey.service.admission.protocol import (
    CloseCode,
    StreamLimits,
    TransportClosed,
    parse_since,
)
from roomkey.service.admission.stream import EventStream, refuse

router = APIRouter(tags=["events"])
CONNECTED = WebSocketState.CONNECTED
PATH = "/v1/rooms/{room}/events"


class StarletteTransport:
    """A Starlette WebSocket as the stream's ``Transport``."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        # after the accept, a text frame is one ASGI message to the server's own send
        self._raw_send = websocket.scope.get(RAW_SEND)

    async def receive_text(self) -> str:
        """The next message (a binary one read as UTF-8: it must hold the same JSON)."""
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            raise TransportClosed from None
        if message["type"] == "websocket.disconnect":
            raise TransportClosed
        text = message.get("text")
        if text is None:
            return bytes(message.get("bytes") or b"").decode("utf-8", "replace")
        return str(text)

    async def send_json(self, message: Mapping[str, Any]) -> None:
        """Send one JSON text frame."""
        await self.send_text(orjson.dumps(message).decode("utf-8"))

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        try:
            if self._raw_send is not None and self.websocket.application_state is CONNECTED:
                await self._raw_send({"type": "websocket.send", "text": text})
            else:
                await self.websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            # OSError: uvicorn's ClientDisconnected, when the peer is gone mid-send
            raise TransportClosed from None

    async def close(self, code: int, reason: str = "") -> None:
        """Close the socket (nothing to do when the peer already went)."""
        with contextlib.suppress(RuntimeError, OSError):
            await self.websocket.close(code, reason)


def event_stream(service: RoomkeyService) -> EventStream | None:
    """The stream over the service's admission, or None when the service has none."""
    admission: Any = getattr(service, "admission", None)
    if admission is None:
        return None

    def authorize_watcher(header: str, room: str) -> str:
        return service.authorize(header, Capability.ROOMS_MODERATE, room=room).project_id

    return EventStream(
        admission.bus,
        # a session joined a moment ago on another node is looked up in Redis
        getattr(admission, "find_session", admission.authenticate_session),
        admission.snapshot,
        authorize_watcher=authorize_watcher,
        attach=admission.attach,
        detach=admission.detach,
        admit_policy=admission.admit_policy,
        limits=getattr(admission, "stream_limits", None) or StreamLimits(),
    )


@router.websocket(PATH, name="room_events")
async def room_events(websocket: WebSocket, room: str) -> None:
    """A room's live events (see :mod:`roomkey.service.admission.protocol`)."""
    await websocket.accept()
    transport = StarletteTransport(websocket)
    stream = event_stream(websocket.app.state.service)
    if stream is None:
        error = InternalServerError("live events are not available on this server")
        await refuse(transport, error, CloseCode.SERVER_ERROR)
        return
    try:
        header = authorization_header(websocket.scope["headers"])
        since = parse_since(websocket.query_params.get("since"))
    except RoomkeyError as exc:
        await refuse(transport, exc, CloseCode.BAD_FRAME)
        return
    await stream.serve(transport, room, header, since)
