"""The server-side commands (``serve``, ``db upgrade``, ``admin token``) and their error lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import SCRIPT, invoke
from remote_support import running_server

from roomkey.cli._common import SERVER_EXTRA_MODULES

# One line on stderr: ``error: <message> [code]``.
ERROR_LINE = re.compile(r"\Aerror: [^\n]+ \[[a-z_]+\]\n\Z")

# What `pip install roomkey` lacks: the [server] extra's modules, less those another core
# dependency brings along anyway (Typer needs pydantic).
NOT_IN_A_CORE_INSTALL = sorted(SERVER_EXTRA_MODULES - {"pydantic", "pydantic_core"})
WITHOUT_EXTRA = (
    "import sys\n"
    f"for name in {NOT_IN_A_CORE_INSTALL!r}:\n"
    "    sys.modules[name] = None  # `import name` now fails as if it were not installed\n"
    "from roomkey.cli import main\n"
    "sys.argv[0] = 'roomkey'\n"
    "main()\n"
)


def roomkey_without_server_extra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``roomkey ARGS`` in a fresh interpreter where the server extra's modules cannot import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMKEY_")}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "command",
    [["serve"], ["db", "upgrade"], ["admin", "token"]],
    ids=lambda c: " ".join(c),
)
def test_a_command_needing_the_server_extra_says_what_to_install(
    command: list[str], tmp_path: Path
) -> None:
    done = roomkey_without_server_extra(*command, "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert ERROR_LINE.match(done.stderr), done.stderr
    expected = f"error: roomkey {' '.join(command)} needs the server extra: "
    assert done.stderr.startswith(expected + "pip install 'roomkey[server]'")
    assert done.stderr.rstrip().endswith("[missing_extra]")
    assert done.stdout == ""


def test_the_offline_commands_work_without_the_server_extra(tmp_path: Path) -> None:
    done = roomkey_without_server_extra("keys", "generate", "--alg", "HS256", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ROOMKEY_API_KEY=" in done.stdout


def test_any_other_missing_server_module_is_named_too(tmp_path: Path) -> None:
    # a command that does not declare the extra: the error boundary still names it, in one line
    program = (
        "import sys, typer\n"
        "sys.modules['sqlalchemy'] = None\n"
        "from roomkey.cli._common import error_boundary\n"
        "try:\n"
        "    with error_boundary():\n"
        "        import sqlalchemy\n"
        "except typer.Exit as exc:\n"
        "    sys.exit(exc.exit_code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    assert ERROR_LINE.match(done.stderr), done.stderr
    assert "this command needs the server extra: pip install 'roomkey[server]'" in done.stderr


# ---- admin token on a development server's data ------------------------------------------


def test_admin_token_on_a_dev_servers_data_names_the_dev_flag(tmp_path: Path) -> None:
    data = tmp_path
    with running_server(data):
        pass  # `roomkey serve --dev` created the dev project and its development key
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMKEY_")}
    done = subprocess.run(
        [str(SCRIPT), "admin", "token", "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert ERROR_LINE.match(done.stderr), done.stderr
    assert "no active API key" in done.stderr and "pass --dev" in done.stderr
    assert done.stderr.rstrip().endswith("[invalid_configuration]")
    assert done.stdout == ""


def test_admin_token_with_dev_mints_on_a_dev_servers_data(tmp_path: Path) -> None:
    data = tmp_path
    with running_server(data):
        pass
    result = invoke(["admin", "token", "--dev", "--data-dir", str(data)])
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    verified = invoke(
        [
            "token",
            "verify",
            token,
            "--api-key",
            "devkey",
            "--api-secret",
            "roomkey-development-secret-do-not-use-in-production",
            "--scope",
            "api",
        ]
    )
    assert verified.exit_code == 0, verified.stderr


def test_admin_token_on_an_empty_database_creates_no_project(tmp_path: Path) -> None:
    result = invoke(["admin", "token", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert ERROR_LINE.match(result.stderr), result.stderr
    assert "no project yet" in result.stderr and "roomkey serve" in result.stderr
    assert result.stdout == ""
    again = invoke(["admin", "token", "--data-dir", str(tmp_path)])  # still none created
    assert "no project yet" in again.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "token", "--database-url", "mysql://nope/db"],
        ["db", "upgrade", "--database-url", "mysql://nope/db"],
        ["admin", "token", "--ttl", "0"],
        ["admin", "token", "--project", "prj_nope"],
        ["serve", "--port", "99999"],
    ],
    ids=lambda a: " ".join(a),
)
def test_every_server_command_error_is_one_line_with_a_real_code(
    args: list[str], tmp_path: Path
) -> None:
    result = invoke([*args, "--data-dir", str(tmp_path / "d")])
    assert result.exit_code in (1, 2)
    assert ERROR_LINE.match(result.stderr), result.stderr
    assert "[internal]" not in result.stderr, result.stderr
