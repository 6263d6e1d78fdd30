"""``roomkey rooms watch ROOM``: a room's live events, one JSON object a line, as they happen.

With ``--session-token`` it watches as that session (what its grant lets it see; it ends when
the session ends); otherwise as a server caller with ``rooms:moderate`` (``--token``, or
``--api-key``/``--api-secret``), who sees what the room's admitters see. A dropped stream is
resumed without a gap (``since``). ``--count`` stops after that many events.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import orjson
import typer

from roomkey.cli._common import EXIT_INVALID, EXIT_USAGE, remember_secret
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import DEFAULT_URL, Credentials, ServerOpt, TokenOpt, base_url, fail
from roomkey.errors import RoomkeyError

SessionTokenOpt = Annotated[
    str | None,
    typer.Option(
        "--session-token",
        envvar="ROOMKEY_SESSION_TOKEN",
        show_default=False,
        help="Watch as this session (the rks1. credential of a join). Never printed.",
    ),
]


def watch(
    room: Annotated[str, typer.Argument(help="The room to watch.")],
    session_token: SessionTokenOpt = None,
    since: Annotated[
        int | None, typer.Option("--since", min=0, help="Start after this event seq.")
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many events.")
    ] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
) -> None:
    """Stream a room's live events as JSON lines (until the session ends, --count, or Ctrl-C)."""
    url = base_url(server)
    remember_secret(session_token)
    bearer = None if session_token else Credentials(token, api_key, api_secret).bearer()
    try:
        asyncio.run(_watch(url, room, session_token, bearer, since, count))
    except KeyboardInterrupt:
        pass
    except RoomkeyError as exc:
        from roomkey.client import ClientError, ConnectionFailedError

        if isinstance(exc, ConnectionFailedError):
            fail(exc.message, "connection_error", EXIT_USAGE)
        fail(exc.message, exc.code, EXIT_USAGE if isinstance(exc, ClientError) else EXIT_INVALID)


async def _watch(
    url: str,
    room: str,
    session_token: str | None,
    bearer: str | None,
    since: int | None,
    count: int | None,
) -> None:
    from roomkey.client import RoomClient

    async with RoomClient(url, token=bearer) as client:
        if session_token:
            client.use_session(room, "", session_token)
        events = client.events(room, since=since)
        seen = 0
        async for event in events:
            _print(event)
            seen += 1
            if count is not None and seen >= count:
                break
        await events.aclose()


def _print(event: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(event).decode("utf-8") + "\n")
    sys.stdout.flush()


__all__ = ["watch"]
