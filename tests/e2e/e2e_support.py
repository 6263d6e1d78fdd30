"""Real `roomkey serve` processes for the end-to-end suite: free ports, banner parsing, logs."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from store_support import pg_execute, postgres_url, require_service, run_in_thread

ROOMKEY = Path(sys.executable).with_name("roomkey")
START_TIMEOUT_S = 60.0  # generous: a loaded 2-CPU machine starts three nodes at once

__all__ = [
    "Banner",
    "Server",
    "free_port",
    "pg_execute",
    "postgres_url",
    "require_service",
    "run_in_thread",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Banner:
    """What the first start handed over (once), in the data directory's 0600 credentials file."""

    project_id: str
    api_key: str
    api_secret: str
    admin_token: str

    @classmethod
    def read(cls, data_dir: Path) -> Banner:
        """The credentials a first start without a terminal wrote to its data directory."""
        text = (data_dir / "first-start-credentials").read_text()
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        values = dict(line.split("=", 1) for line in lines)
        project = re.search(r"project (\S+)\.$", text, re.MULTILINE)
        assert project, f"no project in:\n{text}"
        return cls(
            project.group(1),
            *(shlex.split(values[n])[0] for n in ("ROOMKEY_API_KEY", "ROOMKEY_API_SECRET")),
            shlex.split(values["ROOMKEY_TOKEN"])[0],
        )


@dataclass
class Server:
    """One `roomkey serve` process on 127.0.0.1 with its output captured to files."""

    data_dir: Path
    log_dir: Path
    database_url: str | None = None
    runs: int = 0
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    outputs: list[tuple[Path, Path]] = field(default_factory=list)
    # ROOMKEY_* settings given to the process on top of the environment
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.port = free_port()
        self.runs += 1
        out = self.log_dir / f"stdout.{self.runs}.txt"
        err = self.log_dir / f"stderr.{self.runs}.txt"
        self.outputs.append((out, err))
        cmd = [str(ROOMKEY), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            env = {**os.environ, **self.env}
            self.process = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        try:
            self._poll_healthy()
        except BaseException:
            self.kill()  # never leave a process behind that did not become healthy
            raise

    def _poll_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.stderr()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a real process for readiness, not a test-time sleep
        raise AssertionError(f"server not healthy after {START_TIMEOUT_S}s:\n{self.stderr()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown runs (no claim released, nothing flushed)."""
        assert self.process is not None, "not running"
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def stdout(self, run: int | None = None) -> str:
        return self.outputs[(run or self.runs) - 1][0].read_text(errors="replace")

    def stderr(self, run: int | None = None) -> str:
        return self.outputs[(run or self.runs) - 1][1].read_text(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)
