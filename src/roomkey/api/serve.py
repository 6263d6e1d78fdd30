"""Running the server: migrate and bootstrap once in the parent, then serve with uvicorn.

Bootstrapping before the workers start means several workers never race to create the first
project, and the first start's credentials are printed exactly once.
"""

from __future__ import annotations

import asyncio
import os
import sys

import uvicorn
from fastapi import FastAPI

from roomkey.api.app import create_app
from roomkey.api.http import CoalescingHttpToolsProtocol
from roomkey.api.logging import configure_logging
from roomkey.service import Bootstrap, RoomkeyService, ServerSettings, load_settings

# Settings reach worker processes through the environment.
_ENV_PREFIX = "ROOMKEY_"


async def prepare(settings: ServerSettings) -> Bootstrap | None:
    """Migrate the database and create the first project if there is none."""
    service = await RoomkeyService.open(settings, bootstrap_only=True)
    try:
        return service.bootstrap
    finally:
        await service.close()


def bootstrap_banner(boot: Bootstrap, settings: ServerSettings) -> str:
    """What the first start prints (the only time the secret is shown)."""
    base = f"http://{settings.host}:{settings.port}"
    return f"""
roomkey: {
        "development mode (fixed key, never use in production)"
        if settings.dev
        else "first start: a project and an API key were created"
    }
  project     {boot.project_id}
  API key     {boot.api_key}
  API secret  {boot.api_secret}      <- shown once; store it now
  admin token (1 h, server scope):
    {boot.admin_token}

Mint a first token:
  curl -s -X POST {base}/token -H "Authorization: Bearer $ADMIN_TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"room_name":"standup","participant_identity":"alice"}}'
or without the server:
  roomkey token create --api-key {
        boot.api_key
    } --api-secret "$SECRET" --room standup --identity alice
API docs: {base}/docs
"""


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


def app_from_environment() -> FastAPI:
    """The uvicorn factory for worker processes."""
    return create_app(load_settings())


def serve(settings: ServerSettings) -> None:
    """Bootstrap, print the first-start banner if any, then serve until interrupted."""
    configure_logging(settings.log_level)
    boot = asyncio.run(prepare(settings))
    if boot is not None:
        print(bootstrap_banner(boot, settings), file=sys.stdout, flush=True)
    export_settings(settings)
    uvicorn.run(
        "roomkey.api.serve:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http=CoalescingHttpToolsProtocol,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
    )
