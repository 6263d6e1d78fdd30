"""Pure-ASGI middleware: body size cap, and latency metrics with a log line per request.

The log line never holds a query string (``/rtc/validate`` takes a token there), a body or a
header: a token or secret cannot reach the logs this way.

``Observe`` also hands the hot routes to their lean handlers (``routers.tokens.FAST_HANDLERS``):
it reads the body, lets the handler answer, and if the handler declines replays the body to the
app, so the request goes through FastAPI's routing exactly as it would have.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomkey.api.metrics import Metrics
from roomkey.api.routers.tokens import FAST_HANDLERS, FastHandler

log = logging.getLogger("roomkey.access")


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (by header, and while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope["headers"]:  # the last one counts, as in dict(headers)
            if name == b"content-length":
                length = value
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _too_large(send, self.max_bytes)
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
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps(
        {
            "error": "body_too_large",
            "message": f"the request body is over {limit} bytes",
            "details": {"limit": limit},
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
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
        self._fast: dict[tuple[str, str], tuple[APIRoute, FastHandler]] = {}
        self._fast_for: tuple[int, int] | None = None

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
            fast = self._fast_route(scope)
            if fast is None:
                await self.app(scope, receive, capture)
            else:
                await self._serve_fast(scope, receive, capture, *fast)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_of(scope)
            self.metrics.latency.labels(route, scope["method"], str(status[0])).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "http": {
                            "method": scope["method"],
                            "route": route,
                            "status": status[0],
                            "ms": round(elapsed * 1000, 2),
                        }
                    },
                )

    def _fast_route(self, scope: Scope) -> tuple[APIRoute, FastHandler] | None:
        """The route and lean handler for this request, if it has one and may use it."""
        app = scope.get("app")
        if not isinstance(app, FastAPI) or app.dependency_overrides or scope.get("root_path"):
            return None
        routes = app.router.routes
        if self._fast_for != (id(app), len(routes)):
            self._fast = _fast_routes(app)
            self._fast_for = (id(app), len(routes))
        return self._fast.get((scope["method"], scope["path"]))

    async def _serve_fast(
        self, scope: Scope, receive: Receive, send: Send, route: APIRoute, handler: FastHandler
    ) -> None:
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        response = None
        if messages[-1]["type"] == "http.request":
            scope["route"] = route
            response = await handler(scope, b"".join(chunks))
        if response is not None:
            await response(scope, receive, send)
            return
        scope.pop("route", None)
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _fast_routes(app: FastAPI) -> dict[tuple[str, str], tuple[APIRoute, FastHandler]]:
    """(method, path) → (route, lean handler) for each lean route that routing would pick.

    Conservative: a lean route is used only if no route before it has the same path, a path
    parameter, or no plain path at all (a mount), so routing could not pick another route.
    """
    table: dict[tuple[str, str], tuple[APIRoute, FastHandler]] = {}
    earlier: list[str | None] = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        handler = FAST_HANDLERS.get(context.endpoint) if context.endpoint else None
        if (
            handler is not None
            and isinstance(route, APIRoute)
            and isinstance(path, str)
            and all(p is not None and p != path and "{" not in p for p in earlier)
        ):
            for method in context.methods or ():
                table[(method, path)] = (route, handler)
        earlier.append(path)
    return table


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
