"""The root app: ``--version``, help, and one error boundary for every command and sub-app."""

from __future__ import annotations

import pytest
import typer
from cli_support import SECRET, invoke, one_error_line
from typer.testing import CliRunner

from roomkey import __version__
from roomkey.cli import app
from roomkey.cli._common import RoomkeyGroup, remember_secret
from roomkey.errors import BadSignatureError, InvalidGrantError


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0 and result.stdout == f"roomkey {__version__}\n"


def test_no_arguments_shows_help_and_exits_2() -> None:
    result = invoke([])
    assert result.exit_code == 2
    assert "token" in result.stdout + result.stderr


def test_unknown_command_is_one_line() -> None:
    result = invoke(["tokn"])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "Did you mean 'token'?" in line and line.endswith("[usage_error]")


def test_help_never_shows_the_secret_from_the_environment() -> None:
    for command in (["token", "create"], ["token", "verify"], ["token", "inspect"]):
        result = invoke([*command, "--help"], env={"ROOMKEY_API_SECRET": SECRET})
        assert result.exit_code == 0 and "ROOMKEY_API_SECRET" in result.stdout


def _sub_app() -> typer.Typer:
    """A sub-app as a later module would add it: no error handling of its own."""
    sub = typer.Typer()

    @sub.command("grant")
    def grant() -> None:
        raise InvalidGrantError("contradictory flags", field="admin")

    @sub.command("token")
    def token() -> None:
        raise BadSignatureError("no")

    @sub.command("crash")
    def crash() -> None:
        raise KeyError("internal detail")

    @sub.command("disk")
    def disk() -> None:
        raise PermissionError(13, "Permission denied")

    @sub.command("leak")
    def leak() -> None:
        remember_secret("hunter2-hunter2-hunter2-hunter2-hunter2")
        raise InvalidGrantError("secret hunter2-hunter2-hunter2-hunter2-hunter2 in a message")

    return sub


def _root_with_sub() -> typer.Typer:
    root = typer.Typer(cls=RoomkeyGroup)
    root.add_typer(_sub_app(), name="demo")

    @root.callback()
    def callback() -> None:
        """Test root."""

    return root


@pytest.mark.parametrize(
    ("command", "exit_code", "ending"),
    [
        ("grant", 2, "(field: admin) [invalid_grant]"),
        ("token", 1, "[bad_signature]"),
        ("crash", 1, "[internal]"),
        ("disk", 1, "Permission denied [os_error]"),
        ("leak", 2, "[invalid_grant]"),
    ],
)
def test_boundary_covers_added_sub_apps(command: str, exit_code: int, ending: str) -> None:
    result = CliRunner().invoke(_root_with_sub(), ["demo", command])
    assert result.exit_code == exit_code
    assert result.stdout == ""
    line = one_error_line(result)
    assert line.endswith(ending)
    assert "Traceback" not in result.stderr and "internal detail" not in line
    assert "hunter2" not in line


def test_debug_variable_lets_bugs_through() -> None:
    result = CliRunner().invoke(_root_with_sub(), ["demo", "crash"], env={"ROOMKEY_DEBUG": "1"})
    assert isinstance(result.exception, KeyError)


def test_groups_are_registered() -> None:
    command = typer.main.get_command(app)
    assert isinstance(command, RoomkeyGroup)
    assert set(command.commands) >= {"token", "keys"}
