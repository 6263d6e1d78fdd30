"""The first start's credentials: printed on a terminal, else a 0600 file whose path is logged."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from roomkey.api.first_start import CREDENTIALS_FILE, env_file
from roomkey.service import Bootstrap, ServerSettings

pytestmark = pytest.mark.slow

ROOMKEY = Path(sys.executable).with_name("roomkey")
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(data_dir: Path, stdout: int | IO[bytes], stderr: IO[bytes]) -> Iterator[str]:
    """``roomkey serve`` on a free port until the block ends; yields its URL once healthy."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMKEY_")}
    argv = [str(ROOMKEY), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while httpx_status(url) != 200:
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.05)  # polling a child process for readiness, not a test-time sleep
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def httpx_status(url: str) -> int | None:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code
    except httpx.TransportError:
        return None


def _values(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_without_a_terminal_the_credentials_go_to_a_0600_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr, _serving(data, stdout, stderr) as url:
        path = data / CREDENTIALS_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        values = _values(path.read_text())
        assert set(values) == {
            "ROOMKEY_URL",
            "ROOMKEY_API_KEY",
            "ROOMKEY_API_SECRET",
            "ROOMKEY_TOKEN",
        }
        assert values["ROOMKEY_URL"] == url
        auth = {"Authorization": f"Bearer {values['ROOMKEY_TOKEN']}"}
        assert httpx.get(url + "/v1/keys", headers=auth, timeout=10).status_code == 200
    logged = out.read_text() + err.read_text()
    for secret in (values["ROOMKEY_API_SECRET"].strip("'"), values["ROOMKEY_TOKEN"]):
        assert secret not in logged
    assert str(path.resolve()) in err.read_text()  # the log names the file, and only that


def test_the_credentials_file_loads_into_a_shell(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, port=7801)
    boot = Bootstrap("prj_x", "APIabc", "a secret with 'quotes' and $dollars", "eyJ.a.b")
    path = tmp_path / CREDENTIALS_FILE
    path.write_text(env_file(boot, settings))
    shown = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; printf %s "$ROOMKEY_API_SECRET"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert shown == boot.api_secret


def test_on_a_terminal_the_banner_is_printed_and_no_file_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    primary, secondary = pty.openpty()
    err = tmp_path / "stderr.txt"
    try:
        with err.open("wb") as stderr, _serving(data, secondary, stderr):
            shown = _read_until(primary, b"API docs:")
    finally:
        os.close(primary)
        os.close(secondary)
    text = shown.decode(errors="replace")
    secret = re.search(r"API secret\s+(\S+)", text)
    assert secret, text
    assert "admin token (1 h, server scope)" in text
    assert "export ROOMKEY_URL=" in text and "ROOMKEY_TOKEN=" in text
    assert not (data / CREDENTIALS_FILE).exists()
    assert secret.group(1) not in err.read_text()


def _read_until(fd: int, marker: bytes) -> bytes:
    shown = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    while marker not in shown and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            shown += os.read(fd, 65536)
    return shown
