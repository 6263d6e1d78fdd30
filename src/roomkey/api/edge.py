"""The answers the HTTP server gives by itself, in the one JSON error shape.

Some requests never reach the app: uvicorn answers a request it cannot parse (a malformed
request line, header or chunk) with a text/plain "Invalid HTTP request received.", and the
WebSocket library refuses a bad handshake (or a socket the app closed before accepting it) with
a text of its own. ``roomkey serve`` runs the protocol classes below instead, so that these
answers are ``{"error", "message", "details"}`` with the status the error table gives their code
(``malformed_request`` 400, ``forbidden`` 403, ``internal_error`` 500).

Like :mod:`roomkey.api.http`, this leans on uvicorn internals (pinned below its next minor):
``send_400_response(msg)`` on the HTTP protocols, which write the answer to ``self.transport``
and close it; and ``self.conn``, the websockets ``ServerProtocol`` of the sans-I/O WebSocket
protocol, whose ``reject(status, text)`` builds every refusal (the library's own handshake
checks, uvicorn's 403 and 500). ``tests/e2e/test_e2e_edge.py`` sends such requests to a real
``roomkey serve`` over raw sockets.
"""

from __future__ import annotations

import email.utils
import http
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.http11 import Response

from roomkey.api.errors import status_for
from roomkey.api.http import CoalescingHttpToolsProtocol
from roomkey.errors import (
    ForbiddenError,
    HttpError,
    InternalServerError,
    MalformedRequestError,
    RoomkeyError,
)

UNREADABLE = "the HTTP request could not be read (malformed request line, header or body framing)"
WEBSOCKET_PREFIX = "Failed to open a WebSocket connection: "
WEBSOCKET_ONLY_AT = "/v1/rooms/{room}/events"


def error_bytes(error: RoomkeyError, default_headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 answer for ``error`` (its status from the table), closing the connection."""
    status = http.HTTPStatus(status_for(error))
    body = orjson.dumps(error.to_dict())
    lines = [f"HTTP/1.1 {status.value} {status.phrase}".encode()]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class JsonHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """``roomkey serve``'s HTTP protocol, answering an unreadable request in the error shape."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 ``malformed_request`` and close (uvicorn's ``msg`` is its generic text)."""
        error = MalformedRequestError(UNREADABLE)
        self.transport.write(error_bytes(error, self.server_state.default_headers))
        self.transport.close()


class JsonH11Protocol(H11Protocol):
    """uvicorn's pure-Python HTTP protocol, answering an unreadable request in the error shape."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 ``malformed_request`` and close (as :class:`JsonHttpToolsProtocol`)."""
        error = MalformedRequestError(UNREADABLE)
        self.transport.write(error_bytes(error, self.server_state.default_headers))
        self.transport.close()


def websocket_refusal(status: int, text: str) -> RoomkeyError:
    """The roomkey error for a WebSocket handshake refused with ``status`` and ``text``."""
    if status == 400:
        return MalformedRequestError(
            "not a valid WebSocket handshake: " + text.removeprefix(WEBSOCKET_PREFIX).strip()
        )
    if status == 403:  # the app closed the socket before accepting it: no WebSocket route here
        return ForbiddenError(
            f"no WebSocket opens here (the server's only one is {WEBSOCKET_ONLY_AT})"
        )
    if status >= 500:
        return InternalServerError("the server failed to open the WebSocket connection")
    return HttpError(text.strip() or http.HTTPStatus(status).phrase)


def json_reject(reject: Callable[[Any, str], Response]) -> Callable[[Any, str], Response]:
    """``ServerProtocol.reject`` answering in the error shape, with the status it was given.

    ``reject`` is the library's, kept for the status it validates and the reason phrase.
    """

    def rejecting(status: Any, text: str) -> Response:
        plain = reject(status, text)
        error = websocket_refusal(plain.status_code, text)
        body = orjson.dumps(error.to_dict())
        headers = Headers(
            [
                ("Date", email.utils.formatdate(usegmt=True)),
                ("Connection", "close"),
                ("Content-Length", str(len(body))),
                ("Content-Type", "application/json"),
            ]
        )
        return Response(plain.status_code, plain.reason_phrase, headers, body)

    return rejecting


class JsonWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, refusing a handshake in the error shape."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.reject = json_reject(self.conn.reject)  # type: ignore[method-assign,assignment]


__all__ = [
    "JsonH11Protocol",
    "JsonHttpToolsProtocol",
    "JsonWebSocketsProtocol",
    "error_bytes",
    "websocket_refusal",
]
