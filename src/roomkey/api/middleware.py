"""Pure-ASGI middleware: body size cap, and latency metrics with a log line per request.

The log line never holds a query string (``/rtc/validate`` takes a token there), a body or a
header: a token or secret cannot reach the logs this way.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomkey.api.errors import status_for
from roomkey.api.metrics import Metrics
from roomkey.errors import BodyTooLargeError

log = logging.getLogger("roomkey.access")

# the scope key under which the app keeps a WebSocket's unwrapped ASGI ``send`` (the event
# stream sends its frames there: no middleware acts on a WebSocket's messages)
RAW_SEND = "roomkey.raw_send"


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (by header, and while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope, self.max_bytes):
            await too_large(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


def declared_too_large(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's Content-Length is malformed or over ``max_bytes``."""
    length = None
    for name, value in scope["headers"]:  # the last one counts, as in dict(headers)
        if name == b"content-length":
            length = value
    return length is not None and (not length.isdigit() or int(length) > max_bytes)


async def read_capped(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole request body, or None once it grows over ``max_bytes``."""
    chunks, seen = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def too_large(send: Send, limit: int) -> None:
    """Answer 413 ``body_too_large`` in the one error shape."""
    error = BodyTooLargeError(f"the request body is over {limit} bytes", limit=limit)
    body = orjson.dumps(error.to_dict())
    await send(
        {
            "type": "http.response.start",
            "status": status_for(error),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Observe:
    """Time every request into the latency histogram and log one line without secrets."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            observe(self.metrics, scope, _route_of(scope), status[0], time.perf_counter() - start)


def observe(metrics: Metrics, scope: Scope, route: str, status: int, elapsed_s: float) -> None:
    """Record one answered request: the latency histogram, and the log line at INFO."""
    metrics.observe_request(route, scope["method"], status, elapsed_s)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "request",
            extra={
                "http": {
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "ms": round(elapsed_s * 1000, 2),
                }
            },
        )


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
