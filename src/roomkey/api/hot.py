"""The two hot routes, answered before FastAPI's middleware stack and routing.

`POST /token` and `POST /v1/tokens/verify` are where throughput matters. FastAPI's
layers (exception middleware, exit stacks, routing, dependency solving) cost more than minting a
token, so :class:`RoomkeyApp` serves these two paths itself, with the same body cap and the same
metrics and log line that the middleware gives every other route. The caller pipeline is not
repeated here: each hot handler calls the very :class:`~roomkey.api.deps.Requires` object its
documented route in :mod:`roomkey.api.routers.tokens` declares (header, token checks,
capability, rate limit), before the same body parsing, then the same shared outcome function
(the documented routes declare the caller before the body, so both check who calls first).
Exceptions go to the app's own exception handlers, so every answer is identical; the FastAPI
definitions stay as the OpenAPI documentation and serve the paths under a ``root_path``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from roomkey.api.body import parse_json
from roomkey.api.deps import TOKENS_ISSUE, optional_verifier
from roomkey.api.middleware import (
    RAW_SEND,
    declared_too_large,
    observe,
    read_capped,
    too_large,
)
from roomkey.api.routers.tokens import livekit_outcome, verify_outcome
from roomkey.api.schemas import LiveKitTokenRequest, VerifyRequest
from roomkey.service import RoomkeyService

# A hot handler answers (status, JSON body) or raises for the app's exception handlers.
HotHandler = Callable[[FastAPI, Scope, bytes], Awaitable[tuple[int, Any]]]

# The content type FastJSONResponse sends (after the content-length, in its order).
_JSON = (b"content-type", b"application/json")


async def livekit_token(app: FastAPI, scope: Scope, body: bytes) -> tuple[int, Any]:
    """`POST /token` (see ``routers.tokens.livekit_token``)."""
    service: RoomkeyService = app.state.service
    caller = await TOKENS_ISSUE.resolve(service, scope, app.state.limiter)
    request = parse_json(body, LiveKitTokenRequest)
    return 201, await livekit_outcome(service, caller, request, app.state.metrics)


async def verify_token(app: FastAPI, scope: Scope, body: bytes) -> tuple[int, Any]:
    """`POST /v1/tokens/verify` (see ``routers.tokens.verify_token``)."""
    service: RoomkeyService = app.state.service
    state = app.state
    caller = await optional_verifier(service, scope, state.limiter, state.trusted_proxies)
    request = parse_json(body, VerifyRequest)
    return 200, verify_outcome(service, request, app.state.metrics, caller)


HOT_ROUTES: dict[str, HotHandler] = {"/token": livekit_token, "/v1/tokens/verify": verify_token}


class RoomkeyApp(FastAPI):
    """FastAPI, with the hot routes served ahead of its stack (see the module docstring)."""

    _hot: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
    _max_body_bytes = 0

    def setup_hot_routes(self, max_body_bytes: int) -> None:
        """Serve the hot routes with the app's body cap (``BodyLimit``'s, applied inline)."""
        self._max_body_bytes = max_body_bytes
        self._hot = self._serve_hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in HOT_ROUTES
            and not self.root_path
            and self._hot is not None
        ):
            scope["app"] = self
            await self._hot(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # the server's own send, for the event stream's frames: each frame otherwise goes
            # through every middleware's send wrapper (none acts on a WebSocket's messages),
            # once per socket per event
            scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)

    async def _serve_hot(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer, then record the request as the ``Observe`` middleware does."""
        start = time.perf_counter()
        status = 500
        try:
            status = await self._answer_hot(scope, receive, send)
        finally:
            observe(self.state.metrics, scope, scope["path"], status, time.perf_counter() - start)

    async def _answer_hot(self, scope: Scope, receive: Receive, send: Send) -> int:
        limit = self._max_body_bytes
        body = None if declared_too_large(scope, limit) else await read_capped(receive, limit)
        if body is None:
            await too_large(send, limit)
            return 413
        try:
            status, content = await HOT_ROUTES[scope["path"]](self, scope, body)
            payload = orjson.dumps(content)  # inside: no failure may reach the server unshaped
        except Exception as exc:
            response = await self._handled(scope, exc)
            await response(scope, receive, send)
            return response.status_code
        headers = [(b"content-length", str(len(payload)).encode()), _JSON]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return status

    async def _handled(self, scope: Scope, exc: Exception) -> Response:
        """The response the app's exception handlers give ``exc`` (the most specific one)."""
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                result: Any = handler(Request(scope), exc)
                response: Response = await result if inspect.isawaitable(result) else result
                return response
        raise exc  # pragma: no cover - the app registers a handler for Exception


__all__ = ["HOT_ROUTES", "RoomkeyApp"]
