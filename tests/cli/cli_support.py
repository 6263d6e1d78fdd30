"""Helpers for the CLI tests: constants, one invoke wrapper that checks no secret leaks."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from roomkey.cli import app

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
OTHER_SECRET = "another-secret-that-is-also-32-bytes-long!!"
HMAC = ("--api-key", API_KEY, "--api-secret", SECRET)
SCRIPT = Path(sys.prefix) / "bin" / "roomkey"
# Every variable the CLI reads, unset so the caller's environment never leaks into a test.
CLEAN_ENV: dict[str, str | None] = {"ROOMKEY_API_KEY": None, "ROOMKEY_API_SECRET": None}

Invoke = Callable[..., Result]


def invoke(
    args: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run the app in-process; fail if any known secret shows up in stdout or stderr."""
    result = CliRunner().invoke(app, list(args), input=input, env={**CLEAN_ENV, **(env or {})})
    for secret in (SECRET, OTHER_SECRET):
        assert secret not in result.stdout, "a secret leaked to stdout"
        assert secret not in result.stderr, "a secret leaked to stderr"
    assert "Traceback" not in result.stdout + result.stderr
    return result


def as_json(result: Result) -> Any:
    """The command's stdout parsed as JSON."""
    return json.loads(result.stdout)


def one_error_line(result: Result) -> str:
    """The single ``error: ... [code]`` line on stderr."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def create(*extra: str, env: Mapping[str, str] | None = None) -> str:
    """Mint with the CLI (HS256 key APIkey1) for alice in standup; return the token."""
    args = ["token", "create", *HMAC, "--room", "standup", "--identity", "alice", *extra]
    result = invoke(args, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()
