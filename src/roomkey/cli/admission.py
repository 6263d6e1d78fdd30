"""``roomkey rooms participants|lobby|admit|reject|mute|remove|ban|bans|unban|lock|unlock``:
who is in a live room and who waits, and the moderator's actions on them.

Each command is one call of the server's admission API (``/v1/rooms/{room}/...``) with the
connection options of every remote command; the caller needs ``rooms:moderate`` for the room (a
server token, or a participant token that moderates that room). They are attached to the
``rooms`` group by :mod:`roomkey.cli.rooms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import typer

from roomkey.cli._common import UsageProblem
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import (
    DEFAULT_URL,
    JsonOpt,
    ServerOpt,
    TokenOpt,
    connect,
    segment,
    show_record,
    show_table,
)

RoomArg = Annotated[str, typer.Argument(help="Room id or custom id.")]
IdentityArg = Annotated[str, typer.Argument(help="The participant's identity.")]
SessionArg = Annotated[str, typer.Argument(help="The waiting session's id (from 'rooms lobby').")]

_PARTICIPANT_COLUMNS = (
    ("identity", "IDENTITY"),
    ("name", "NAME"),
    ("role", "ROLE"),
    ("joined_at", "JOINED"),
)
_LOBBY_COLUMNS = (
    ("session_id", "SESSION"),
    ("identity", "IDENTITY"),
    ("name", "NAME"),
    ("position", "POSITION"),
    ("knocked_at", "KNOCKED"),
)
_BAN_COLUMNS = (
    ("identity", "IDENTITY"),
    ("reason", "REASON"),
    ("created_by", "BY"),
    ("created_at", "BANNED"),
)


def _room(room: str) -> str:
    return f"/v1/rooms/{segment(room)}"


def _rows(document: Any) -> Sequence[Mapping[str, Any]]:
    """The records of a listing: the answer itself when it is a list, else its ``data``
    (the admission routes answer ``{"data": [...]}``, like the rooms and audit pages)."""
    if isinstance(document, list):
        return document
    rows = document.get("data", []) if isinstance(document, dict) else []
    return rows if isinstance(rows, list) else []


def participants(
    room: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the participants admitted to a live room."""
    with connect(server, token, api_key, api_secret) as client:
        document = client.get(f"{_room(room)}/participants")
    rows = _rows(document)
    show_table(document, rows, _PARTICIPANT_COLUMNS, "nobody is in the room", as_json)


def lobby(
    room: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List who waits in a room's lobby, first knock first."""
    with connect(server, token, api_key, api_secret) as client:
        document = client.get(f"{_room(room)}/lobby")
    rows = _rows(document)
    show_table(document, rows, _LOBBY_COLUMNS, "nobody is waiting", as_json)


def admit(
    room: RoomArg,
    session_id: SessionArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Admit a waiting participant (the first decision wins; a second is 409)."""
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post(f"{_room(room)}/lobby/{segment(session_id)}/admit")
    show_record(answer or {}, as_json, "admitted")


def reject(
    room: RoomArg,
    session_id: SessionArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, shown to the waiting participant.")
    ] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a waiting participant (the first decision wins; a second is 409)."""
    body = {} if reason is None else {"reason": reason}
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post(f"{_room(room)}/lobby/{segment(session_id)}/reject", body)
    show_record(answer or {}, as_json, "rejected")


def mute(
    room: RoomArg,
    identity: IdentityArg,
    sources: Annotated[
        str, typer.Option("--sources", help="What to mute, comma-separated: mic, cam, screen.")
    ],
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mute a participant's mic, cam or screen (unmuting is theirs to accept, never forced)."""
    body = {"sources": _sources(sources)}
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post(f"{_room(room)}/participants/{segment(identity)}/mute", body)
    show_record(answer or {}, as_json, "muted")


def _sources(text: str) -> list[str]:
    sources = [s.strip() for s in text.split(",") if s.strip()]
    if not sources:
        raise UsageProblem("--sources names nothing: give mic, cam or screen (comma-separated)")
    return sources


def remove(
    room: RoomArg,
    identity: IdentityArg,
    ban: Annotated[
        bool,
        typer.Option("--ban", help="Also ban: revoke its tokens for the room, refuse rejoining."),
    ] = False,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a participant from a live room (with --ban, until the ban is lifted)."""
    path = f"{_room(room)}/participants/{segment(identity)}"
    with connect(server, token, api_key, api_secret) as client:
        _, answer = client.call("DELETE", path, params={"ban": "true" if ban else None})
    show_record(answer or {}, as_json, "removed and banned" if ban else "removed")


def ban_identity(
    room: RoomArg,
    identity: IdentityArg,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, kept with the ban (at most 200 characters).")
    ] = "",
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ban an identity from a room, whether or not it is there now."""
    body = {"identity": identity, "reason": reason}
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post(f"{_room(room)}/bans", body)
    show_record(answer, as_json, "banned")


def bans(
    room: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a room's live bans, oldest first."""
    with connect(server, token, api_key, api_secret) as client:
        document = client.get(f"{_room(room)}/bans")
    show_table(document, _rows(document), _BAN_COLUMNS, "nobody is banned", as_json)


def unban(
    room: RoomArg,
    identity: IdentityArg,
    lift_revocations: Annotated[
        bool,
        typer.Option(
            "--lift-revocations",
            help="Also lift the ban's revocations: tokens from before the ban verify again.",
        ),
    ] = False,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lift a ban: the identity may get tokens for the room and join it again."""
    path = f"{_room(room)}/bans/{segment(identity)}"
    params = {"lift_revocations": "true" if lift_revocations else None}
    with connect(server, token, api_key, api_secret) as client:
        _, answer = client.call("DELETE", path, params=params)
    show_record(answer, as_json, "ban lifted")


def lock(
    room: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lock a room: whoever joins waits in the lobby, unless they may admit others."""
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post(f"{_room(room)}/lock")
    show_record(answer or {}, as_json, "locked")


def unlock(
    room: RoomArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Unlock a room: joining follows each participant's grant again."""
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post(f"{_room(room)}/unlock")
    show_record(answer or {}, as_json, "unlocked")


# The commands in the order `roomkey rooms --help` shows them, by name.
COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("participants", participants),
    ("lobby", lobby),
    ("admit", admit),
    ("reject", reject),
    ("mute", mute),
    ("remove", remove),
    ("ban", ban_identity),
    ("bans", bans),
    ("unban", unban),
    ("lock", lock),
    ("unlock", unlock),
)

__all__ = ["COMMANDS"]
