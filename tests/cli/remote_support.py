"""A real ``roomkey serve --dev`` process for the server-management commands, and a runner.

Each test module starts one server (a module-scoped fixture) on a free port with its own data
directory, waits for ``/healthz``, and terminates it at teardown. Commands run in-process
(``CliRunner``) with the server's URL and the dev key in the environment, and fail the test if
a known secret reaches stdout or stderr.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cli_support import OTHER_SECRET, SCRIPT, SECRET
from typer.testing import CliRunner, Result

from roomkey.cli import app

DEV_KEY = "devkey"
DEV_SECRET = "roomkey-development-secret-do-not-use-in-production"
STARTUP_TIMEOUT_S = 30.0
# Every variable the remote commands read, unset unless a test sets it.
REMOTE_ENV: dict[str, str | None] = {
    "ROOMKEY_URL": None,
    "ROOMKEY_TOKEN": None,
    "ROOMKEY_API_KEY": None,
    "ROOMKEY_API_SECRET": None,
}
# A first start without a terminal writes its credentials here (an env file), not to stdout.
_ADMIN_TOKEN = re.compile(r"^ROOMKEY_TOKEN=(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Server:
    """A running server: its URL, data directory, log file and first-start admin token."""

    url: str
    data_dir: Path
    log: Path
    admin_token: str

    @property
    def env(self) -> dict[str, str | None]:
        """The environment a remote command needs: the URL and the dev API key."""
        return {
            **REMOTE_ENV,
            "ROOMKEY_URL": self.url,
            "ROOMKEY_API_KEY": DEV_KEY,
            "ROOMKEY_API_SECRET": DEV_SECRET,
        }

    def http(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A direct request with the admin token (to set up or check what a command did)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(data_dir: Path, settings: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Start ``roomkey serve --dev`` on a free port (with ``ROOMKEY_*`` ``settings``); stop it
    on exit."""
    port = free_port()
    log = data_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMKEY_")}
    env.update(settings or {})
    args = [str(SCRIPT), "serve", "--dev", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, log)
        match = _ADMIN_TOKEN.search((data_dir / "first-start-credentials").read_text())
        assert match, f"no admin token in the credentials file:\n{log.read_text()}"
        yield Server(url, data_dir, log, match.group(1))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    # Waiting for a child process to bind its port is the one place a poll is unavoidable.
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the server did not become healthy:\n{log.read_text()}")


def run(
    server: Server | None,
    args: Sequence[str],
    *,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
) -> Result:
    """Run ``roomkey ARGS`` in-process against ``server``; no known secret may leak."""
    base = server.env if server is not None else dict(REMOTE_ENV)
    result = CliRunner().invoke(app, list(args), input=input, env={**base, **(env or {})})
    output = result.stdout + result.stderr
    for secret in (SECRET, OTHER_SECRET, DEV_SECRET):
        assert secret not in output, "a secret leaked"
    assert "Traceback" not in output, output
    return result


def ok(server: Server | None, *args: str, **kwargs: Any) -> Result:
    """Run and require exit 0."""
    result = run(server, args, **kwargs)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def shell(command: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in bash with the installed ``roomkey`` first on PATH."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROOMKEY_")}
    base.update(env, PATH=f"{SCRIPT.parent}{os.pathsep}{base.get('PATH', '')}")
    done = subprocess.run(
        ["bash", "-c", command], env=base, capture_output=True, text=True, timeout=60
    )
    assert DEV_SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done
