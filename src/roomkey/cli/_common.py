"""What every ``roomkey`` command shares: the error boundary, exit codes, input and output.

Errors are translated once, here: a :class:`RoomkeyError`, an unreadable file, invalid JSON or a
usage mistake becomes one line on stderr (``error: <message> [code]``) and an exit code, never a
traceback. Secrets a command was given are masked in every line this module prints.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
from typer.core import TyperGroup

from roomkey.errors import RoomkeyError, TokenError

EXIT_OK = 0
EXIT_INVALID = 1  # the token (or the checks run on it) failed
EXIT_USAGE = 2  # the command line, a file or a flag value is wrong

_MASK = "********"
_secrets: set[str] = set()


def _click_class(name: str) -> type[Exception]:
    # Typer may vendor Click or depend on it; find its classes through a public one.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


_UsageError = _click_class("UsageError")
_ClickException = _click_class("ClickException")


class UsageProblem(RoomkeyError):
    """The command line asks for something impossible (a missing key, a bad flag value)."""

    code = "usage_error"


class InputFileError(RoomkeyError):
    """A file named on the command line cannot be read or written."""

    code = "file_error"


class InvalidJsonError(RoomkeyError):
    """Text given as JSON (a flag value or a file) does not parse."""

    code = "invalid_json"


class MissingExtraError(RoomkeyError):
    """A command needs packages of the ``server`` extra that are not installed."""

    code = "missing_extra"


# The top-level modules that only the ``server`` extra installs (httpx is a core dependency).
SERVER_EXTRA_MODULES = frozenset(
    {
        "aiosqlite",
        "alembic",
        "asyncpg",
        "fastapi",
        "prometheus_client",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "redis",
        "sqlalchemy",
        "starlette",
        "uvicorn",
    }
)
SERVER_EXTRA_HINT = "pip install 'roomkey[server]'"


def missing_extra(exc: ModuleNotFoundError, command: str) -> MissingExtraError | None:
    """The error to show when ``exc`` is a module of the server extra; None for any other."""
    module = (exc.name or "").partition(".")[0]
    if module not in SERVER_EXTRA_MODULES:
        return None
    return MissingExtraError(
        f"{command} needs the server extra: {SERVER_EXTRA_HINT} (module {module!r} is missing)",
        module=module,
    )


@contextmanager
def needs_server_extra(command: str) -> Iterator[None]:
    """Run a command body that imports the server's packages; a missing one is named.

    Raises :class:`MissingExtraError` when a module of the ``server`` extra is not installed.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        error = missing_extra(exc, command)
        if error is None:
            raise
        raise error from None


def remember_secret(value: str | None) -> None:
    """Mask ``value`` in every error line printed from now on."""
    if value:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by a mask."""
    for secret in _secrets:
        text = text.replace(secret, _MASK)
    return text


def exit_code_for(exc: RoomkeyError) -> int:
    """1 for a refused token, 2 for anything wrong with the request itself."""
    return EXIT_INVALID if isinstance(exc, TokenError) else EXIT_USAGE


def error_message(exc: RoomkeyError) -> str:
    """The error's message, naming the field it concerns when the message does not."""
    field = exc.details.get("field")
    if isinstance(field, str) and field not in exc.message:
        return f"{exc.message} (field: {field})"
    return exc.message


def say_error(message: str, code: str) -> None:
    """Print the one error line on stderr."""
    typer.echo(redact(f"error: {message} [{code}]"), err=True)


@contextmanager
def error_boundary() -> Iterator[None]:
    """Translate every failure below into one stderr line and an exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except _UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise  # Typer prints the help for it
        say_error(_usage_text(exc), "usage_error")
        raise typer.Exit(EXIT_USAGE) from None
    except _ClickException:
        raise
    except RoomkeyError as exc:
        say_error(error_message(exc), exc.code)
        raise typer.Exit(exit_code_for(exc)) from None
    except ModuleNotFoundError as exc:  # a command that does not say it needs the extra
        error = missing_extra(exc, "this command")
        if error is None:
            _internal(exc)
        say_error(error.message, error.code)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        say_error(exc.strerror or str(exc), "os_error")
        raise typer.Exit(EXIT_INVALID) from None
    except Exception as exc:  # a bug: still one line, never a traceback with local values
        _internal(exc)


def _internal(exc: Exception) -> NoReturn:
    if os.environ.get("ROOMKEY_DEBUG"):
        raise exc
    say_error(f"internal error ({type(exc).__name__}); set ROOMKEY_DEBUG=1", "internal")
    raise typer.Exit(EXIT_INVALID) from None


def _usage_text(exc: Exception) -> str:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None)
    return f"{message} (see '{path} --help')" if path else str(message)


class RoomkeyGroup(TyperGroup):
    """The root command group: runs every command, sub-app and option parse in the boundary."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        """Parse the root options inside the error boundary."""
        with error_boundary():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        """Run the chosen command inside the error boundary."""
        with error_boundary():
            return super().invoke(ctx)


# ---- output ---------------------------------------------------------------------------------


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    typer.echo(text)


# ---- input ----------------------------------------------------------------------------------


def read_token(value: str) -> str:
    """The token given as an argument, or read from stdin for ``-``; a ``Bearer`` prefix goes."""
    text = sys.stdin.read() if value == "-" else value
    token = text.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise UsageProblem("no token given" + (" on stdin" if value == "-" else ""))
    return token


def read_bytes(path: Path, what: str) -> bytes:
    """The contents of ``path``; an unreadable file is an :class:`InputFileError`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None


def parse_json(text: str | bytes, what: str) -> Any:
    """Parse JSON or raise :class:`InvalidJsonError` naming ``what``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonError(f"{what} is not valid JSON: {exc}") from None


def write_private_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` readable by the owner only (0600); refuse to overwrite unless ``force``."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_TRUNC if force else os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise InputFileError(f"{str(path)!r} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise InputFileError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an overwritten file keeps its old mode otherwise
        handle.write(data)


__all__ = [
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "SERVER_EXTRA_HINT",
    "SERVER_EXTRA_MODULES",
    "InputFileError",
    "InvalidJsonError",
    "MissingExtraError",
    "RoomkeyGroup",
    "UsageProblem",
    "emit_json",
    "error_boundary",
    "error_message",
    "exit_code_for",
    "missing_extra",
    "needs_server_extra",
    "parse_json",
    "read_bytes",
    "read_token",
    "redact",
    "remember_secret",
    "say_error",
    "write_private_file",
]
