"""Running the server: migrate and bootstrap once in the parent, then serve with uvicorn.

Bootstrapping before the workers start means several workers never race to create the first
project, and the first start's credentials are handed over exactly once (see
:mod:`roomkey.api.first_start`).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from roomkey.api.app import create_app
from roomkey.api.edge import JsonHttpToolsProtocol, JsonWebSocketsProtocol
from roomkey.api.first_start import hand_over
from roomkey.api.logging import configure_logging
from roomkey.service import Bootstrap, RoomkeyService, ServerSettings, load_settings

if TYPE_CHECKING:
    from roomkey.service.preload import RevocationPreload

# Settings reach worker processes through the environment.
_ENV_PREFIX = "ROOMKEY_"
# WebSocket frames above this are refused by uvicorn (1009) before the app reads them; the event
# stream's own, smaller cap answers with an error frame first (roomkey.service.admission.stream)
WS_MAX_BYTES = 64 * 1024
# uvicorn pings every socket and drops one that does not answer in time (a dead peer)
WS_PING_INTERVAL_S = 20.0
WS_PING_TIMEOUT_S = 20.0
# No permessage-deflate: an event goes to every socket of a room, and with compression each
# socket compresses it again in its own context (events are a few hundred bytes of JSON). With
# the websockets client, which asks for it, the server's CPU for one event to 1,000 sockets
# was 58.9 and 40.0 ms with it, 44.4 and 34.4 ms without (bench/admission.py --client libs).
WS_PER_MESSAGE_DEFLATE = False


async def prepare(settings: ServerSettings) -> Bootstrap | None:
    """Migrate the database and create the first project if there is none."""
    service = await RoomkeyService.open(settings, bootstrap_only=True)
    try:
        return service.bootstrap
    finally:
        await service.close()


def export_settings(settings: ServerSettings) -> None:
    """Put every setting into the environment so that uvicorn's workers load the same ones."""
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if name == "master_key":
            value = settings.master_key.get_secret_value() if settings.master_key else None
        os.environ[f"{_ENV_PREFIX}{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )


# the revocations ``serve`` was handed, read ahead, for the app uvicorn builds in this process
# (a worker process of its own starts with None and loads them itself)
_preload: RevocationPreload | None = None


def app_from_environment() -> FastAPI:
    """The uvicorn factory for worker processes."""
    global _preload
    preload, _preload = _preload, None  # taken once
    return create_app(load_settings(), preload=preload)


def serve(settings: ServerSettings, *, preload: RevocationPreload | None = None) -> None:
    """Bootstrap, hand over the first start's credentials if any, then serve until interrupted.

    ``preload`` holds this database's revocations being read ahead (one worker only; see
    :mod:`roomkey.store.preload`).
    """
    global _preload
    configure_logging(settings.log_level)
    boot = asyncio.run(prepare(settings))
    if boot is not None:
        hand_over(boot, settings, sys.stdout)
    export_settings(settings)
    _preload = preload if settings.workers == 1 else None
    if settings.workers > 1:
        gc.enable()  # this process only supervises: the workers tune their own collector
    uvicorn.run(
        "roomkey.api.serve:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # uvicorn's protocols, answering what they answer by themselves in the error shape
        http=JsonHttpToolsProtocol,
        ws=JsonWebSocketsProtocol,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        # the client address is the socket peer; X-Forwarded-For is read by roomkey itself, and
        # only from the proxies named in trusted_proxies (roomkey.api.clients)
        proxy_headers=False,
        ws_max_size=WS_MAX_BYTES,
        ws_ping_interval=WS_PING_INTERVAL_S,
        ws_ping_timeout=WS_PING_TIMEOUT_S,
        ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
    )
