"""A small HTTP client for the commands that manage a running roomkey server.

The server is ``--server`` (env ``ROOMKEY_URL``, default ``http://127.0.0.1:7800``). The caller
proves itself with ``--token`` (env ``ROOMKEY_TOKEN``: a server-scope token, sent as
``Authorization: Bearer``) or, failing that, ``--api-key``/``--api-secret``, from which a
five-minute ``api``-scope token is minted locally for each command.

Failures end as the CLI's one error line (``error: <message> [code]``): an error answer from
the server keeps the server's message and code and exits 1; a problem on this side (no
credentials, a bad URL, a server that cannot be reached) exits 2. ``httpx`` is imported only when
a command talks to a server, so ``roomkey --version`` and the offline commands stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import quote

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from roomkey import __version__
from roomkey.cli._common import (
    EXIT_INVALID,
    EXIT_USAGE,
    UsageProblem,
    emit_json,
    remember_secret,
    say_error,
)
from roomkey.cli._parsing import parse_ttl

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:7800"
CLI_TOKEN_TTL_S = 300  # a minted server token lives for one command, with room for clock skew
CLI_IDENTITY = "cli"
TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
PIPE_WIDTH = 1000  # table width when stdout is not a terminal: never fold an id

ServerOpt = Annotated[
    str,
    typer.Option(
        "--server", envvar="ROOMKEY_URL", help="Base URL of the roomkey server (env ROOMKEY_URL)."
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="ROOMKEY_TOKEN",
        show_default=False,
        help="Server-scope token sent as 'Authorization: Bearer'. Never printed.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the server's JSON instead of text.")]


# ---- errors ---------------------------------------------------------------------------------


def fail(message: str, code: str, exit_code: int) -> NoReturn:
    """Print the one error line and exit with ``exit_code``."""
    say_error(message, code)
    raise typer.Exit(exit_code)


def fail_from_response(status: int, body: bytes) -> NoReturn:
    """The server's ``{"error", "message", "details"}`` as the CLI's error line, exit 1."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        fail(document["message"], str(document.get("error") or f"http_{status}"), EXIT_INVALID)
    fail(f"the server answered HTTP {status} without an error document", "http_error", EXIT_INVALID)


# ---- credentials and the client -------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """How a command authenticates: a server token, or an API key and secret to mint one."""

    token: str | None = None
    api_key: str | None = None
    api_secret: str | None = None

    def bearer(self) -> str:
        """The server token to send; minted from the API key and secret when none was given."""
        remember_secret(self.token)
        remember_secret(self.api_secret)
        if self.token:
            token = self.token.strip()
            return token[7:].strip() if token[:7].lower() == "bearer " else token
        if self.api_secret and not self.api_key:
            raise UsageProblem("--api-secret needs --api-key (or ROOMKEY_API_KEY)")
        if not self.api_key or not self.api_secret:
            raise UsageProblem(
                "no credentials: give --token (or ROOMKEY_TOKEN), or --api-key and --api-secret "
                "(or ROOMKEY_API_KEY and ROOMKEY_API_SECRET)"
            )
        from roomkey.minting import AccessToken

        builder = AccessToken(self.api_key, self.api_secret).with_identity(CLI_IDENTITY)
        # The key's holder owns the project: the command's token may do what the key may.
        builder = builder.with_scope("api").with_permissions(capabilities=["admin"])
        minted = builder.with_ttl(CLI_TOKEN_TTL_S).to_jwt()
        remember_secret(minted)
        return minted


def base_url(server: str) -> str:
    """``server`` without a trailing slash; anything but http(s) is a usage error."""
    url = server.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        raise UsageProblem(f"--server {server!r} is not an http:// or https:// URL")
    return url


class RemoteClient:
    """Calls on one server; every answer is JSON, or the command ends with the error line."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self._http = http
        self.url = url

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """``(status, parsed JSON or None)`` for a 2xx answer; any other status fails (exit 1)."""
        import httpx

        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._http.request(
                method, path, content=content, params=query, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            fail(self._unreachable(exc), "connection_error", EXIT_USAGE)
        except httpx.TransportError as exc:
            fail(
                f"no answer from the roomkey server at {self.url} ({type(exc).__name__}); "
                "the request may or may not have been applied",
                "connection_error",
                EXIT_INVALID,
            )
        if not response.is_success:
            fail_from_response(response.status_code, response.content)
        return response.status_code, (orjson.loads(response.content) if response.content else None)

    def _unreachable(self, exc: Exception) -> str:
        reason = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        return (
            f"cannot connect to the roomkey server at {self.url} ({reason}); is 'roomkey serve' "
            "running there? Set --server or ROOMKEY_URL"
        )

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` with query ``params`` (None values left out)."""
        return self.call("GET", path, params=params)[1]

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON ``body`` (an empty object when None)."""
        return self.call("POST", path, body=body or {})[1]


@contextmanager
def connect(
    server: str,
    token: str | None,
    api_key: str | None,
    api_secret: str | None,
    *,
    anonymous_ok: bool = False,
) -> Iterator[RemoteClient]:
    """A client for ``server`` authenticated with the credentials given.

    Without credentials it raises :class:`UsageProblem` (exit 2), unless ``anonymous_ok`` (a
    route that needs none): then no ``Authorization`` header is sent.
    """
    url = base_url(server)
    credentials = Credentials(token, api_key, api_secret)
    anonymous = anonymous_ok and not (token or api_key or api_secret)
    bearer = None if anonymous else credentials.bearer()
    try:
        import httpx
    except ImportError:
        raise UsageProblem(
            "the server commands need httpx: pip install 'roomkey[server]'"
        ) from None
    headers = {"User-Agent": f"roomkey-cli/{__version__}"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    timeout = httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        http = httpx.Client(base_url=url, headers=headers, timeout=timeout)
    except httpx.InvalidURL as exc:
        raise UsageProblem(f"--server {server!r} is not a valid URL: {exc}") from None
    with http:
        yield RemoteClient(http, url)


def duration_s(text: str, flag: str) -> int:
    """Seconds from ``90s``, ``15m``, ``2h``, ``1d`` or bare seconds given to ``flag``."""
    try:
        return parse_ttl(text)
    except UsageProblem:
        raise UsageProblem(
            f"{flag} {text!r} is not a duration (use 90s, 15m, 2h, 1d or seconds)"
        ) from None


def segment(value: str) -> str:
    """``value`` as one URL path segment.

    The server routes on the decoded path, so even an encoded ``/`` would reach another route
    (``rooms get validate/x`` would validate ``x``): an id with a ``/`` is refused here.
    """
    if "/" in value or not value.strip():
        raise UsageProblem(f"{value!r} cannot be addressed through the API (empty, or has a '/')")
    return quote(value, safe="")


# ---- output ---------------------------------------------------------------------------------


def when(epoch_s: Any) -> str:
    """An epoch time as ``2026-11-23 10:00:00Z``; empty for None."""
    if epoch_s is None:
        return ""
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cell(value: Any) -> str:
    """A value as table text: strings as they are, None empty, the rest as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], empty: str
) -> None:
    """One row per record; ``columns`` are ``(field, heading)``; times (``*_at``) readable."""
    console = _console()
    if not rows:
        console.print(Text(empty, "dim"))
        return
    table = Table(box=None, padding=(0, 2), header_style="bold")
    for _, heading in columns:
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*(Text(_shown(row, field)) for field, _ in columns))
    console.print(table)


def show_table(
    document: Any,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    empty: str,
    as_json: bool,
) -> None:
    """``document`` as JSON with ``--json``; otherwise ``rows`` as a table."""
    if as_json:
        emit_json(document)
    else:
        print_table(rows, columns, empty)


def show_record(record: Mapping[str, Any], as_json: bool, title: str | None = None) -> None:
    """``record`` as JSON with ``--json``; otherwise as ``field  value`` lines."""
    if as_json:
        emit_json(record)
    else:
        print_record(record, title)


def print_record(record: Mapping[str, Any], title: str | None = None) -> None:
    """One record as ``field  value`` lines (values shown as plain text, never as markup)."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for field in record:
        table.add_row(Text(field), Text(_shown(record, field)))
    _console().print(table)


def _console() -> Console:
    """A console for tables: the terminal's width, or unbounded lines in a pipe (for grep)."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH if piped else None)


def _shown(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    is_time = field.endswith("_at") or field == "issued_before"
    return when(value) if is_time and isinstance(value, int) else cell(value)


def note(message: str) -> None:
    """A remark for the human on stderr (never part of the command's output)."""
    typer.echo(message, err=True)


__all__ = [
    "CLI_TOKEN_TTL_S",
    "DEFAULT_URL",
    "Credentials",
    "JsonOpt",
    "RemoteClient",
    "ServerOpt",
    "TokenOpt",
    "base_url",
    "cell",
    "connect",
    "duration_s",
    "fail",
    "fail_from_response",
    "note",
    "print_record",
    "print_table",
    "segment",
    "when",
]
