"""Starts the webhook receiver process (tests/webhook_receiver.py) and reads what it saw."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

RECEIVER = Path(__file__).with_name("webhook_receiver.py")
# settings of a server whose webhooks the tests watch: loopback receivers, quick polls and leases
FAST_ENV = {
    "ROOMKEY_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "ROOMKEY_WEBHOOK_POLL_S": "0.05",
    "ROOMKEY_WEBHOOK_TIMEOUT_S": "1.5",
    "ROOMKEY_WEBHOOK_LEASE_S": "2",
}


class Receiver:
    """A real receiver process on 127.0.0.1 (start with :meth:`start`, stop with :meth:`stop`)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> Receiver:
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("port "), f"receiver did not start: {line!r}"
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def configure(self, path: str, **config: Any) -> str:
        """Set how ``path`` verifies and answers; its URL."""
        httpx.post(self.url(f"/_config{path}"), json=config, timeout=5).raise_for_status()
        return self.url(path)

    def log(self, path: str) -> list[dict[str, Any]]:
        return list(httpx.get(self.url(f"/_log{path}"), timeout=5).json())

    def count(self) -> int:
        return int(httpx.get(self.url("/_count"), timeout=5).text)


def wait_for(check: Callable[[], Any], timeout_s: float = 15.0, every_s: float = 0.02) -> Any:
    """Poll ``check`` until it returns something truthy (polling a real process, not sleeping
    for time to pass); that value. Fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {check}")
        time.sleep(every_s)


async def await_for(check: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    """:func:`wait_for` for async tests (yields to the loop between polls)."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s")
        await asyncio.sleep(0.02)
