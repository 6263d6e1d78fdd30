"""Liveness, readiness, Prometheus metrics and the public JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from roomkey.api.deps import ServiceDep
from roomkey.api.responses import FastJSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    responses={503: {"description": "The database is unreachable"}},
)
async def readyz(service: ServiceDep) -> FastJSONResponse:
    """The database answers and state is loaded; with several nodes, the change feed's
    revision and whether changes arrive through Redis or by polling the database."""
    return FastJSONResponse(await service.check_ready())


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus exposition",
        }
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/.well-known/jwks.json", operation_id="jwks")
async def jwks(service: ServiceDep) -> dict[str, Any]:
    """Public keys that sign huddle01-style tokens (clients verify against these)."""
    return service.keys.jwks()
