"""A webhook receiver process for the tests and the benchmark: it verifies every delivery with
the real third-party verifiers and records what it saw.

Run as ``python tests/webhook_receiver.py``; it binds 127.0.0.1 on a free port and prints
``port <n>`` once it listens. Each path is configured by ``POST /_config/<path>`` with a JSON
object: ``secret`` (Standard Webhooks, checked with ``standardwebhooks.Webhook``) or
``api_key`` + ``api_secret`` (LiveKit format, checked with ``livekit.api.WebhookReceiver``),
and how to answer: ``fail_first`` (answer ``fail_status``, default 500, that many times first),
``delay_s`` (before answering, the first ``delay_first`` requests or all), ``redirect`` (answer
307 to another URL), ``huge`` (answer 200 with a body of that many bytes, streamed), and
``status`` (default 204). ``GET /_log/<path>`` returns what was received there, in order;
``GET /_count`` the number of deliveries received on every path.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from livekit import api
from standardwebhooks import Webhook

CONFIG: dict[str, dict[str, Any]] = {}
LOG: dict[str, list[dict[str, Any]]] = {}
SEEN: dict[str, int] = {}
LOCK = threading.Lock()
COUNT = [0]


def verify(config: dict[str, Any], body: bytes, headers: dict[str, str]) -> tuple[bool, str, Any]:
    """(verified, error, parsed body) with the real verifier of the configured format."""
    try:
        if "api_key" in config:
            receiver = api.WebhookReceiver(
                api.TokenVerifier(config["api_key"], config["api_secret"])
            )
            event = receiver.receive(body.decode(), headers.get("authorization", ""))
            return (
                True,
                "",
                {
                    "event": event.event,
                    "id": event.id,
                    "room": event.room.name,
                    "identity": event.participant.identity,
                },
            )
        if "secret" in config:
            return True, "", Webhook(config["secret"]).verify(body, headers)
        return False, "not configured", None
    except Exception as exc:  # recorded: the test asserts on it
        return False, f"{type(exc).__name__}: {exc}", None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/_log/"):
            with LOCK:
                body = json.dumps(LOG.get(self.path[len("/_log") :], [])).encode()
            self._answer(200, body, {"content-type": "application/json"})
        elif self.path == "/_count":
            with LOCK:
                self._answer(200, str(COUNT[0]).encode())
        else:
            self._answer(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path.startswith("/_config/"):
            with LOCK:
                path = self.path[len("/_config") :]
                CONFIG[path] = json.loads(body)
                LOG[path], SEEN[path] = [], 0
            self._answer(204)
            return
        with LOCK:
            config = CONFIG.get(self.path, {})
            n = SEEN.get(self.path, 0)
            SEEN[self.path] = n + 1
        headers = {k.lower(): v for k, v in self.headers.items()}
        ok, error, parsed = verify(config, body, headers)
        status = config.get("status", 204)
        if n < config.get("fail_first", 0):
            status = config.get("fail_status", 500)
        if config.get("redirect"):
            status = 307
        entry = {
            "n": n,
            "verified": ok,
            "error": error,
            "body": parsed,
            "status": status,
            "raw": body.decode("utf-8", "replace"),
            "t": time.time(),
            "webhook_id": headers.get("webhook-id"),
            "headers": headers,
        }
        with LOCK:
            LOG.setdefault(self.path, []).append(entry)
            COUNT[0] += 1
        delay = config.get("delay_s", 0)
        if delay and n < config.get("delay_first", 1 << 30):
            time.sleep(delay)
        self._reply(config, status)

    def _reply(self, config: dict[str, Any], status: int) -> None:
        if status == 307:
            self._answer(307, b"", {"location": "http://127.0.0.1:9/elsewhere"})
        elif config.get("huge"):
            self.send_response(200)
            self.send_header("content-length", str(config["huge"]))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(config["huge"] // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the sender stopped reading, as it should
        else:
            self._answer(status)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    sys.exit(main())
