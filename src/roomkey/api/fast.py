"""Lean endpoints for the two hot routes, served ahead of FastAPI's routing.

``POST /token`` and ``POST /v1/tokens/verify`` are where throughput matters (DESIGN §7), and
FastAPI's per-request dependency solving costs more than minting the token. These Starlette
routes sit first in the router and run the very same steps in the same order as the documented
FastAPI routes in :mod:`roomkey.api.routers.tokens` (body, then caller, then rate limit, then
issue and audit), raising the same exceptions, so the app's handlers give identical responses.
The FastAPI definitions stay as the OpenAPI documentation of these paths.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roomkey.api.body import parse_body
from roomkey.api.deps import count_issuance
from roomkey.api.routers.tokens import livekit_outcome, verify_outcome
from roomkey.api.schemas import LiveKitTokenRequest, VerifyRequest
from roomkey.service import RoomkeyService


async def livekit_token(request: Request) -> Response:
    """`POST /token` (see ``routers.tokens.livekit_token``)."""
    body = await parse_body(request, LiveKitTokenRequest)
    app = request.app
    service: RoomkeyService = app.state.service
    caller = service.authenticate(request.headers.get("authorization"))
    count_issuance(caller, service, app.state.limiter)
    return await livekit_outcome(service, caller, body, app.state.metrics)


async def verify_token(request: Request) -> Response:
    """`POST /v1/tokens/verify` (see ``routers.tokens.verify_token``)."""
    body = await parse_body(request, VerifyRequest)
    return verify_outcome(request.app.state.service, body, request.app.state.metrics)


def install_fast_routes(app: FastAPI) -> None:
    """Put the lean routes first: routing picks them before the documented ones."""
    lean: list[BaseRoute] = [
        Route("/token", livekit_token, methods=["POST"], include_in_schema=False),
        Route("/v1/tokens/verify", verify_token, methods=["POST"], include_in_schema=False),
    ]
    app.router.routes[:0] = lean


__all__ = ["install_fast_routes"]
