"""Server-side commands that run on the server's own machine: serve, db upgrade, admin token.

They are thin: each builds settings from flags (over ``ROOMKEY_*`` and the config file) and calls
the service or the API runner.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roomkey.cli._common import needs_server_extra
from roomkey.errors import ConfigurationError

if TYPE_CHECKING:
    from roomkey.capabilities import Capability
    from roomkey.service import ServerSettings

# The service layer (SQLAlchemy, migrations) is imported inside the commands: the token and key
# commands stay fast, and work without the [server] extra; without it, these commands say so.

db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
admin_app = typer.Typer(no_args_is_help=True, help="Bootstrap administration.")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar="ROOMKEY_CONFIG", help="TOML config file ([roomkey] table)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="sqlite:///path or postgresql://user@host/db."),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Directory for SQLite and the master key file.")
]


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 7800).")] = None,
    database_url: DbOpt = None,
    redis_url: Annotated[
        str | None,
        typer.Option("--redis-url", help="redis://host:port/db, shared by several nodes."),
    ] = None,
    data_dir: DataOpt = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Fixed development key 'devkey' (never in production).")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Run the roomkey server (SQLite under ./.roomkey by default)."""
    # no cyclic collection until the server is loaded (roomkey.api.app.tune_garbage_collector
    # freezes what the start made and turns it on again): nearly everything made meanwhile
    # lives on, and the collector's passes over it were a tenth of the start
    gc.disable()
    with needs_server_extra("roomkey serve"):
        from roomkey.service.settings import load_settings

        settings = load_settings(
            config,
            host=host,
            port=port,
            database_url=database_url,
            redis_url=redis_url,
            data_dir=data_dir,
            workers=workers,
            log_level=log_level,
            dev=dev or None,
        )
        preload = None
        if settings.workers == 1:  # several workers each load their own, in their process
            # begun before the server is imported, which takes about as long
            from roomkey.service.preload import begin_preload

            preload = begin_preload(settings)
        from roomkey.api.serve import serve as run

        run(settings, preload=preload)


@db_app.command("upgrade")
def db_upgrade(
    database_url: DbOpt = None, data_dir: DataOpt = None, config: ConfigOpt = None
) -> None:
    """Migrate the database schema to the newest revision."""
    with needs_server_extra("roomkey db upgrade"):
        from roomkey.service import load_settings, upgrade_database

        settings = load_settings(config, database_url=database_url, data_dir=data_dir)
        revision = upgrade_database(settings)
    typer.echo(f"database at revision {revision}")


@admin_app.command("token")
def admin_token(
    project: Annotated[str | None, typer.Option("--project", help="Project id.")] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="Lifetime in seconds.")] = 3600,
    permissions: Annotated[
        str,
        typer.Option(
            "--permissions",
            help="Capabilities the token carries, comma-separated (keys, project, rooms:read, "
            "rooms:write, roles, tokens:issue, tokens:verify, revocations, audit:read, "
            "rooms:moderate, webhooks, admin).",
        ),
    ] = "admin",
    database_url: DbOpt = None,
    data_dir: DataOpt = None,
    dev: Annotated[
        bool,
        typer.Option("--dev", help="The data of a 'roomkey serve --dev' server (key 'devkey')."),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Print a server-scope token (for ROOMKEY_TOKEN) from the local database and master key."""
    # The service's start-up warnings (a development key not loaded, ...) would make a second
    # line; what matters reaches the user as the token, or as the one error line.
    logging.getLogger("roomkey").setLevel(logging.ERROR)
    with needs_server_extra("roomkey admin token"):
        from roomkey.capabilities import parse_capabilities
        from roomkey.service import load_settings

        capabilities = parse_capabilities(permissions)
        if not capabilities:
            from roomkey.errors import InvalidGrantError

            raise InvalidGrantError("--permissions names no capability", field="capabilities")
        settings = load_settings(
            config, database_url=database_url, data_dir=data_dir, dev=dev or None
        )
        token = asyncio.run(_admin_token(settings, project, ttl, capabilities))
    typer.echo(token)


async def _admin_token(
    settings: ServerSettings, project: str | None, ttl: int, capabilities: frozenset[Capability]
) -> str:
    from roomkey.service import RoomkeyService

    # Only reads: no first project is created here (its secret would be shown to nobody).
    service = await RoomkeyService.open(settings, bootstrap_only=True, create_first_project=False)
    try:
        projects = service.projects.ids()
        if not projects:
            raise ConfigurationError(
                "this database has no project yet: start the server once ('roomkey serve') "
                "to create the first one"
            )
        project_id = project or (projects[0] if len(projects) == 1 else None)
        if project_id is None:
            raise ConfigurationError(f"name a project with --project (one of {projects})")
        service.projects.get(project_id)
        return service.admin_token(project_id, ttl_s=ttl, capabilities=sorted(capabilities))
    finally:
        await service.close()
