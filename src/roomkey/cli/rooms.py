"""``roomkey rooms ...``: the rooms of a running server's project.

``create --custom-id`` is idempotent on the server: a repeat returns the existing room (noted on
stderr). ``list`` shows one page (``--limit``, ``--cursor``), or with ``--all`` follows the
cursors to the end. ``validate`` exits 1 with the server's reason when a room is unknown or
inactive. The commands on a live room (participants, lobby, moderation, bans, locks) are in
:mod:`roomkey.cli.admission`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roomkey.cli import admission
from roomkey.cli._common import InvalidJsonError, parse_json
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import (
    DEFAULT_URL,
    JsonOpt,
    RemoteClient,
    ServerOpt,
    TokenOpt,
    connect,
    note,
    segment,
    show_record,
    show_table,
)

app = typer.Typer(no_args_is_help=True, help="Rooms on a roomkey server.")

RoomArg = Annotated[str, typer.Argument(help="Room id or custom id.")]
MAX_PAGE = 200
_ROOM_COLUMNS = (
    ("roomId", "ROOM ID"),
    ("customRoomId", "CUSTOM ID"),
    ("active", "ACTIVE"),
    ("locked", "LOCKED"),
    ("max_participants", "MAX"),
    ("created_at", "CREATED"),
    ("metadata", "METADATA"),
)


@app.command("create")
def create(
    custom_id: Annotated[
        str | None,
        typer.Option("--custom-id", help="Your own id; creating it again returns the room."),
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="Room metadata: a JSON object.")
    ] = None,
    max_participants: Annotated[
        int | None, typer.Option("--max-participants", min=1, help="Participant limit.")
    ] = None,
    locked: Annotated[bool, typer.Option("--locked", help="Create the room locked.")] = False,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a room (with --custom-id, a repeat returns the existing room)."""
    body: dict[str, Any] = {"locked": locked}
    if custom_id is not None:
        body["customRoomId"] = custom_id
    if metadata is not None:
        body["metadata"] = _json_object(metadata)
    if max_participants is not None:
        body["max_participants"] = max_participants
    with connect(server, token, api_key, api_secret) as client:
        status, room = client.call("POST", "/v1/rooms", body=body)
    if status == 200:
        note(f"room {custom_id!r} already existed; showing it")
    show_record(room, as_json, "created room" if status == 201 else "existing room")


@app.command("list")
def list_rooms(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_PAGE, help="Rooms per page (1 to 200).")
    ] = 50,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Start after this cursor (from a last page).")
    ] = None,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow the cursors and list every room.")
    ] = False,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List rooms, newest first: one page, or every page with --all."""
    with connect(server, token, api_key, api_secret) as client:
        page = _pages(client, limit, cursor, all_pages)
    show_table(page, page["data"], _ROOM_COLUMNS, "no rooms", as_json)
    if page["next_cursor"]:
        note(f"more rooms: --cursor {page['next_cursor']} (or --all)")


def _pages(client: RemoteClient, limit: int, cursor: str | None, all_pages: bool) -> Any:
    page = client.get("/v1/rooms", limit=limit, cursor=cursor)
    rooms = list(page["data"])
    while all_pages and page.get("next_cursor"):
        page = client.get("/v1/rooms", limit=limit, cursor=page["next_cursor"])
        rooms += page["data"]
    return {"data": rooms, "next_cursor": page.get("next_cursor")}


@app.command("get")
def get(
    room_id: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a room by id or custom id."""
    with connect(server, token, api_key, api_secret) as client:
        room = client.get(f"/v1/rooms/{segment(room_id)}")
    show_record(room, as_json, "room")


@app.command("validate")
def validate(
    room_id: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exit 0 when the room exists and is active; 1 with the reason otherwise."""
    with connect(server, token, api_key, api_secret) as client:
        room = client.get(f"/v1/rooms/validate/{segment(room_id)}")
    show_record(room, as_json, "valid: the room exists and is active")


@app.command("deactivate")
def deactivate(
    room_id: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deactivate a room: its tokens are refused from now on."""
    with connect(server, token, api_key, api_secret) as client:
        room = client.post(f"/v1/rooms/{segment(room_id)}/deactivate")
    show_record(room, as_json, "deactivated room")


for _name, _command in admission.COMMANDS:  # the live room's commands (cli/admission.py)
    app.command(_name)(_command)


def _json_object(text: str) -> dict[str, Any]:
    value = parse_json(text, "--metadata")
    if not isinstance(value, dict):
        raise InvalidJsonError('--metadata must be a JSON object, like \'{"topic":"sync"}\'')
    return value


__all__ = ["app"]
