"""Redis for the tests: the machine's shared server, or a private ``redis-server`` that a test
may stop and start again.

A test needing Redis skips with a clear message when it is unreachable, and fails under
``CI=true`` (through ``require_service``). Every test uses its own namespace, so tests running in
parallel on the shared server never see each other's keys or channels.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "store"))

from store_support import require_service

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT_S = 10.0


def redis_url() -> str:
    """The shared Redis server the tests use."""
    return os.environ.get("ROOMKEY_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def ping(url: str, timeout_s: float = 2.0) -> None:
    """Raise unless a Redis server answers PING at ``url`` (a synchronous client)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        client.ping()
    finally:
        client.close()


def require_redis(url: str | None = None) -> str:
    """The shared server's URL, once it answers; skips (fails under CI) otherwise."""
    url = url or redis_url()
    require_service("Redis", lambda: ping(url), at=url)
    return url


def new_namespace() -> str:
    """A namespace of this test's own (``rkt_<random>``)."""
    return f"rkt_{secrets.token_hex(4)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port (nothing saved to disk), which the
    test may stop and start again on the same port."""

    workdir: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        binary = shutil.which("redis-server")
        require_service("redis-server", lambda: _require(binary), at="PATH")
        assert binary is not None
        log = (self.workdir / "redis.log").open("ab")
        cmd = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                ping(self.url, timeout_s=0.5)
                return
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)  # polling a real process for readiness

    def stop(self) -> None:
        """SIGKILL: every connection drops at once, as when Redis crashes."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None


def _require(binary: str | None) -> None:
    if binary is None:
        raise FileNotFoundError("redis-server is not on PATH (apt-get install redis-server)")
