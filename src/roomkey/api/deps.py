"""Dependencies shared by the routers: the service, the authenticated caller, rate limits.

They are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in a worker
thread, and these are a few microseconds of work each, far cheaper than the thread hop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from roomkey.api.ratelimit import RateLimiter
from roomkey.service import Caller, RoomkeyService


async def get_service(request: Request) -> RoomkeyService:
    """The node's service container (opened by the app's lifespan)."""
    service: RoomkeyService = request.app.state.service
    return service


async def get_limiter(request: Request) -> RateLimiter:
    """The node's rate limiter."""
    limiter: RateLimiter = request.app.state.limiter
    return limiter


ServiceDep = Annotated[RoomkeyService, Depends(get_service)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]


async def get_caller(
    service: ServiceDep,
    authorization: Annotated[
        str | None,
        Header(description="`Bearer <server token>` or the raw token (VideoSDK style)."),
    ] = None,
) -> Caller:
    """The authenticated caller (401 without a valid server token, 403 for a room token)."""
    return service.authenticate(authorization)


CallerDep = Annotated[Caller, Depends(get_caller)]


def count_issuance(caller: Caller, service: RoomkeyService, limiter: RateLimiter) -> None:
    """Count one issuance for ``caller``; raises the 429 error when over the limit."""
    project = service.ctx.project(caller.project_id)
    per_min = project.record.settings.rate_limit_per_min or service.ctx.settings.rate_limit_per_min
    limiter.hit(f"issue:{caller.kid}", per_min)


async def issuing_caller(caller: CallerDep, service: ServiceDep, limiter: LimiterDep) -> Caller:
    """A caller allowed to issue one more token now (429 with Retry-After otherwise)."""
    count_issuance(caller, service, limiter)
    return caller


IssuerDep = Annotated[Caller, Depends(issuing_caller)]
