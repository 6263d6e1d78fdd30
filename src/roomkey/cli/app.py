"""The root ``roomkey`` command: ``--version`` and the sub-apps.

Sub-apps live in their own modules and are attached here; a new group is one more
``app.add_typer(...)`` line, a new command on an existing group is one more ``@<group>.command()``
in its module. Every command runs inside the one error boundary of
:class:`~roomkey.cli._common.RoomkeyGroup`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from roomkey import __version__
from roomkey.cli import (
    dashboard,
    keys,
    project,
    revoke,
    rooms,
    server,
    tokens,
    watch,
    webhooks,
)
from roomkey.cli._common import RoomkeyGroup

app = typer.Typer(
    name="roomkey",
    cls=RoomkeyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="roomkey: access tokens for real-time audio/video rooms.",
)
app.add_typer(tokens.app, name="token")
app.add_typer(keys.app, name="keys")
app.add_typer(rooms.app, name="rooms")
app.add_typer(webhooks.app, name="webhooks")
rooms.app.command("watch")(watch.watch)
app.command("revoke")(revoke.revoke)
app.add_typer(revoke.revocations_app, name="revocations")
app.add_typer(project.roles_app, name="roles")
app.add_typer(project.audit_app, name="audit")
app.add_typer(project.project_app, name="project")
app.command("serve")(server.serve)
app.command("dashboard")(dashboard.dashboard)
app.add_typer(server.db_app, name="db")
app.add_typer(server.admin_app, name="admin")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"roomkey {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """roomkey: access tokens for real-time audio/video rooms."""


def main() -> None:
    """Console-script entry point (``roomkey``)."""
    app(prog_name="roomkey")


__all__ = ["app", "main"]
