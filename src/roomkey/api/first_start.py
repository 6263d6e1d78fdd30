"""Handing over the first start's credentials: the API secret and a one-hour admin token.

On an interactive terminal they are printed once. Anywhere else (a supervisor, a container, a
pipe) stdout ends up in a log file kept for ever, so they go to a file readable by the owner only,
``<data_dir>/first-start-credentials``, and the log names only its path, the way well-known
servers hand over a first admin password. The file is an env file: ``set -a; . FILE; set +a``
sets the variables the CLI reads (``ROOMKEY_URL``, ``ROOMKEY_API_KEY``, ``ROOMKEY_API_SECRET``,
``ROOMKEY_TOKEN``).
"""

from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path
from typing import TextIO

from roomkey.service import Bootstrap, ServerSettings

CREDENTIALS_FILE = "first-start-credentials"

log = logging.getLogger("roomkey.first_start")


def credentials_path(settings: ServerSettings) -> Path:
    """Where a first start without a terminal writes its credentials."""
    return settings.data_dir / CREDENTIALS_FILE


def base_url(settings: ServerSettings) -> str:
    """The URL the server listens on, as a client on this machine reaches it."""
    return f"http://{settings.host}:{settings.port}"


def _headline(settings: ServerSettings) -> str:
    if settings.dev:
        return "development mode (fixed key, never use in production)"
    return "first start: a project and an API key were created"


def banner(boot: Bootstrap, settings: ServerSettings) -> str:
    """What an interactive first start prints (the only time the secret is shown)."""
    base = base_url(settings)
    return f"""
roomkey: {_headline(settings)}
  project     {boot.project_id}
  API key     {boot.api_key}
  API secret  {boot.api_secret}      <- shown once; store it now
  admin token (1 h, server scope):
    {boot.admin_token}

In another shell, put them where the roomkey CLI looks for them:
  export ROOMKEY_URL={base} ROOMKEY_API_KEY={boot.api_key}
  export ROOMKEY_API_SECRET='<API secret>' ROOMKEY_TOKEN='<admin token>'
Mint a first token:
  curl -s -X POST "$ROOMKEY_URL/token" -H "Authorization: Bearer $ROOMKEY_TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"room_name":"standup","participant_identity":"alice"}}'
or without the server:
  roomkey token create --room standup --identity alice
API docs: {base}/docs
"""


def env_file(boot: Bootstrap, settings: ServerSettings) -> str:
    """The credentials file: comments for the human, ``NAME=value`` lines for a shell."""
    values = {
        "ROOMKEY_URL": base_url(settings),
        "ROOMKEY_API_KEY": boot.api_key,
        "ROOMKEY_API_SECRET": boot.api_secret,
        "ROOMKEY_TOKEN": boot.admin_token,
    }
    lines = "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    return (
        f"# roomkey: {_headline(settings)}; project {boot.project_id}.\n"
        "# The API secret is shown only here: store it, then delete this file.\n"
        "# ROOMKEY_TOKEN is a server-scope admin token valid for 1 h ('roomkey admin token'\n"
        "# prints a fresh one). Load them with: set -a; . ./first-start-credentials; set +a\n"
        f"{lines}"
    )


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by the owner only (0600), replacing any old file.

    Raises :class:`OSError` when the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a file that existed keeps its old mode otherwise
        handle.write(text)


def hand_over(boot: Bootstrap, settings: ServerSettings, stdout: TextIO) -> None:
    """Print the credentials on a terminal; otherwise write the 0600 file and log its path.

    Raises :class:`OSError` when the file cannot be written.
    """
    if stdout.isatty():
        print(banner(boot, settings), file=stdout, flush=True)
        return
    path = credentials_path(settings)
    write_private(path, env_file(boot, settings))
    log.warning(
        "first start: the API secret and an admin token were written to %s (mode 0600); "
        "read it, store the secret, then delete the file",
        path.resolve(),
        extra={"credentials_file": str(path.resolve())},
    )


__all__ = [
    "CREDENTIALS_FILE",
    "banner",
    "base_url",
    "credentials_path",
    "env_file",
    "hand_over",
    "write_private",
]
