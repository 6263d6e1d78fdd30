"""The ASGI app factory: routers, error shape, middleware, and the service's lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from roomkey import __version__
from roomkey.api.access import annotate
from roomkey.api.clients import parse_networks
from roomkey.api.dashboard import install_dashboard
from roomkey.api.errors import ERROR_RESPONSES, install_error_handlers
from roomkey.api.hot import RoomkeyApp
from roomkey.api.metrics import Metrics
from roomkey.api.middleware import BodyLimit, Observe
from roomkey.api.ratelimit import build_limiter
from roomkey.api.responses import FastJSONResponse
from roomkey.api.routes import ROUTERS
from roomkey.api.rules import document_rules
from roomkey.api.swagger import install_swagger_ui
from roomkey.service import RoomkeyService, ServerSettings, load_settings

if TYPE_CHECKING:
    from roomkey.service.preload import RevocationPreload

DESCRIPTION = """Access tokens and admission for real-time audio/video rooms.

Management and token-issuing calls take a server-scope token:
`Authorization: Bearer <jwt>` or the raw `Authorization: <jwt>`. Each operation names the one
capability it requires (`requires: rooms:write`); a token without it gets 403 with
`details.missing`. Errors always have the shape
`{"error": code, "message": ..., "details": ...}`."""


def tune_garbage_collector() -> None:
    """Keep the cyclic collector off the hot path (measured: about +40% on POST /token).

    Everything loaded at start (keys, rooms, revocations, the framework) is moved out of the
    collector's sight, and young collections run every 50,000 allocations instead of 700:
    requests allocate many short-lived objects but almost no cycles.

    No full collection first: with 1,000,000 revocations it took 0.2 s of the start (it visits
    every rule of the big tables) to free a few thousand objects left over from the imports
    (``roomkey serve`` starts with the collector off), which stay.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    gc.enable()


def _feed_of(app: FastAPI) -> Any:
    service = _service_of(app)
    return service.feed if service is not None and service._feed_started else None


def _service_of(app: FastAPI) -> Any:
    return getattr(app.state, "service", None)


def _admission_of(app: FastAPI) -> Any:
    return getattr(_service_of(app), "admission", None)


def create_app(
    settings: ServerSettings | None = None,
    *,
    service: RoomkeyService | None = None,
    preload: RevocationPreload | None = None,
) -> FastAPI:
    """A roomkey app. Without ``service``, the lifespan opens one from ``settings`` (with the
    revocations ``preload`` read ahead, if given)."""
    settings = settings or (service.settings if service else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        app.state.service = service or await RoomkeyService.open(settings, preload=preload)
        if owned:
            tune_garbage_collector()
        try:
            yield
        finally:
            await app.state.limiter.close()
            if owned:
                await app.state.service.close()

    app = RoomkeyApp(
        title="roomkey",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
        responses=ERROR_RESPONSES,
        # roomkey exports its own Prometheus metrics; FastAPI's native OpenTelemetry hooks would
        # only add a provider check to every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # FastAPI's pages load their assets from a CDN; install_swagger_ui serves them from here
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = Metrics()
    # read at scrape time: the service may be opened later, by the lifespan
    app.state.metrics.watch_admission(lambda: _admission_of(app))
    app.state.metrics.watch_webhooks(lambda: getattr(_service_of(app), "webhooks", None))
    app.state.metrics.watch_feed(lambda: _feed_of(app))
    app.state.metrics.watch_audit(lambda: getattr(_service_of(app), "audit", None))
    app.state.limiter = build_limiter(settings)
    app.state.metrics.watch_ratelimit(lambda: app.state.limiter)
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
    if service is not None:
        app.state.service = service
    install_error_handlers(app)
    install_swagger_ui(app)
    install_dashboard(app)
    annotate(ROUTERS)
    document_rules(ROUTERS)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(Observe, metrics=app.state.metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.setup_hot_routes(settings.max_body_bytes)
    return app
