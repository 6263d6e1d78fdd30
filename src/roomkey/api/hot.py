"""The two hot routes, answered before FastAPI's middleware stack and routing.

`POST /token` and `POST /v1/tokens/verify` are where throughput matters (DESIGN §7). FastAPI's
layers (exception middleware, exit stacks, routing, dependency solving) cost more than minting a
token, so :class:`RoomkeyApp` serves these two paths itself, through the same body cap and the
same metrics/log middleware, running the same steps in the same order as the documented routes in
:mod:`roomkey.api.routers.tokens` (body, then caller, then rate limit, then issue and audit).
Exceptions go to the app's own exception handlers, so every answer is identical; the FastAPI
definitions stay as the OpenAPI documentation and serve the paths under a ``root_path``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from roomkey.api.body import parse_json
from roomkey.api.deps import count_issuance
from roomkey.api.middleware import BodyLimit, Observe
from roomkey.api.routers.tokens import livekit_outcome, verify_outcome
from roomkey.api.schemas import LiveKitTokenRequest, VerifyRequest
from roomkey.service import RoomkeyService

HotHandler = Callable[[FastAPI, Scope, bytes], Awaitable[Response]]


class _HotRoute(NamedTuple):
    """What the metrics middleware reads from ``scope["route"]``."""

    path: str


async def livekit_token(app: FastAPI, scope: Scope, body: bytes) -> Response:
    """`POST /token` (see ``routers.tokens.livekit_token``)."""
    request = parse_json(body, LiveKitTokenRequest)
    service: RoomkeyService = app.state.service
    caller = service.authenticate(_first_header(scope, b"authorization"))
    count_issuance(caller, service, app.state.limiter)
    return await livekit_outcome(service, caller, request, app.state.metrics)


async def verify_token(app: FastAPI, scope: Scope, body: bytes) -> Response:
    """`POST /v1/tokens/verify` (see ``routers.tokens.verify_token``)."""
    request = parse_json(body, VerifyRequest)
    return verify_outcome(app.state.service, request, app.state.metrics)


HOT_ROUTES: dict[str, HotHandler] = {"/token": livekit_token, "/v1/tokens/verify": verify_token}


class RoomkeyApp(FastAPI):
    """FastAPI, with the hot routes served ahead of its stack (see the module docstring)."""

    _hot: ASGIApp | None = None

    def setup_hot_routes(self, max_body_bytes: int) -> None:
        """Build the short stack the hot routes go through (body cap, metrics and log line)."""
        self._hot: ASGIApp = Observe(BodyLimit(self._serve_hot, max_body_bytes), self.state.metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in HOT_ROUTES
            and not self.root_path
            and self._hot is not None
        ):
            scope["app"] = self
            scope["route"] = _HotRoute(scope["path"])
            await self._hot(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _serve_hot(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        try:
            response = await HOT_ROUTES[scope["path"]](self, scope, body)
        except Exception as exc:
            response = await self._handled(scope, exc)
        await response(scope, receive, send)

    async def _handled(self, scope: Scope, exc: Exception) -> Response:
        """The response the app's exception handlers give ``exc`` (the most specific one)."""
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                result: Any = handler(Request(scope), exc)
                response: Response = await result if inspect.isawaitable(result) else result
                return response
        raise exc  # pragma: no cover - the app registers a handler for Exception


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _first_header(scope: Scope, name: bytes) -> str | None:
    """The first ``name`` header, decoded as Starlette's ``request.headers.get`` does."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


__all__ = ["HOT_ROUTES", "RoomkeyApp"]
