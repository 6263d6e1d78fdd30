"""``roomkey roles | audit | project ...``: custom roles, the audit log and project policy.

``roles put NAME --grant k=v`` takes the same ``--grant`` values as ``token create`` (JSON when
they parse, else text; or a whole JSON object); permissions it does not name are denied.
``project set`` changes only the settings it is given.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roomkey.cli._common import UsageProblem, emit_json
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli._parsing import parse_grants
from roomkey.cli.remote import (
    DEFAULT_URL,
    JsonOpt,
    ServerOpt,
    TokenOpt,
    connect,
    duration_s,
    note,
    print_record,
    segment,
    show_record,
    show_table,
)

roles_app = typer.Typer(no_args_is_help=True, help="Custom roles on a roomkey server.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log of issued tokens.")
project_app = typer.Typer(no_args_is_help=True, help="The project and its policy.")

RoleArg = Annotated[str, typer.Argument(help="Role name (at most 20 characters).")]
_ROLE_COLUMNS = (("name", "NAME"), ("permissions", "PERMISSIONS"), ("updated_at", "UPDATED"))
_AUDIT_COLUMNS = (
    ("issued_at", "ISSUED"),
    ("jti", "JTI"),
    ("identity", "IDENTITY"),
    ("room", "ROOM"),
    ("role", "ROLE"),
    ("dialect", "DIALECT"),
    ("endpoint", "ENDPOINT"),
    ("kid", "KID"),
    ("expires_at", "EXPIRES"),
)


@roles_app.command("put")
def put_role(
    name: RoleArg,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant", help="Permission k=v (JSON value when it parses) or a JSON object."
        ),
    ] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or replace a custom role; permissions it does not name are denied."""
    permissions = parse_grants(grant or [])
    if not permissions:
        raise UsageProblem("give the role's permissions with --grant k=v (repeatable)")
    with connect(server, token, api_key, api_secret) as client:
        path = f"/v1/roles/{segment(name)}"
        role = client.call("PUT", path, body={"permissions": permissions})[1]
    show_record(role, as_json, f"role {name}")


@roles_app.command("list")
def list_roles(
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the project's custom roles."""
    with connect(server, token, api_key, api_secret) as client:
        roles = client.get("/v1/roles")
    show_table(roles, roles, _ROLE_COLUMNS, "no custom roles", as_json)


@roles_app.command("get")
def get_role(
    name: RoleArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a custom role and its effective grant."""
    with connect(server, token, api_key, api_secret) as client:
        role = client.get(f"/v1/roles/{segment(name)}")
    show_record(role, as_json, f"role {name}")


@roles_app.command("delete")
def delete_role(
    name: RoleArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a custom role."""
    with connect(server, token, api_key, api_secret) as client:
        client.call("DELETE", f"/v1/roles/{segment(name)}")
    if as_json:
        emit_json({"deleted": name})
    else:
        typer.echo(f"deleted role {name}")


@audit_app.command("list")
def list_audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Rows (1 to 500).")] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Start after this cursor.")] = None,
    room: Annotated[str | None, typer.Option("--room", help="Only tokens for this room.")] = None,
    identity: Annotated[
        str | None, typer.Option("--identity", help="Only tokens for this identity.")
    ] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List issued tokens, newest first."""
    with connect(server, token, api_key, api_secret) as client:
        page = client.get("/v1/audit", limit=limit, cursor=cursor, room=room, identity=identity)
    show_table(page, page["data"], _AUDIT_COLUMNS, "no issued tokens", as_json)
    if page.get("next_cursor"):
        note(f"more rows: --cursor {page['next_cursor']}")


@project_app.command("show")
def show_project(
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the caller's project and its settings."""
    with connect(server, token, api_key, api_secret) as client:
        project = client.get("/v1/project")
    _show_project(project, as_json)


@project_app.command("set")
def set_project(
    default_ttl: Annotated[
        str | None, typer.Option("--default-ttl", help="Default token lifetime: 15m, 1h...")
    ] = None,
    max_ttl: Annotated[
        str | None, typer.Option("--max-ttl", help="Longest token lifetime: 1h, 1d...")
    ] = None,
    auto_create_rooms: Annotated[
        bool | None,
        typer.Option(
            "--auto-create-rooms/--no-auto-create-rooms",
            help="Create unknown rooms on first token.",
        ),
    ] = None,
    sandbox: Annotated[
        bool | None,
        typer.Option("--sandbox/--no-sandbox", help="Enable the development sandbox endpoint."),
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option("--rate-limit", min=1, help="Token issuances per minute per caller."),
    ] = None,
    videosdk_roleless_api: Annotated[
        bool | None,
        typer.Option(
            "--videosdk-roleless-api/--no-videosdk-roleless-api",
            help="Let VideoSDK tokens without roles call the API with the crawler role's rights.",
        ),
    ] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change project policy; settings not given are kept."""
    changes: dict[str, Any] = {
        "default_ttl_s": None if default_ttl is None else duration_s(default_ttl, "--default-ttl"),
        "max_ttl_s": None if max_ttl is None else duration_s(max_ttl, "--max-ttl"),
        "auto_create_rooms": auto_create_rooms,
        "sandbox_enabled": sandbox,
        "rate_limit_per_min": rate_limit,
        "videosdk_roleless_api": videosdk_roleless_api,
    }
    body = {k: v for k, v in changes.items() if v is not None}
    if not body:
        raise UsageProblem("nothing to change: give at least one setting (see --help)")
    with connect(server, token, api_key, api_secret) as client:
        project = client.call("PATCH", "/v1/project", body=body)[1]
    _show_project(project, as_json)


def _show_project(project: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(project)
        return
    settings = project.get("settings", {})
    print_record({k: v for k, v in project.items() if k != "settings"}, "project")
    print_record(settings, "settings")


__all__ = ["audit_app", "project_app", "roles_app"]
