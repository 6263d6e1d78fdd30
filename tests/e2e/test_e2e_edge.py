"""What a real `roomkey serve` answers before its app can: raw bytes over a raw socket.

A request uvicorn cannot parse got its text/plain "Invalid HTTP request received.", and a
refused WebSocket handshake the library's own text; every answer now has the one JSON error
shape, with the status the error table gives its code.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from e2e_support import Server

from roomkey.api.errors import HTTP_STATUS

pytestmark = pytest.mark.slow

WS_HEADERS = b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
WS_KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

UNREADABLE = {
    "request line": b"GARBAGE\r\n\r\n",
    "method": b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
    "chunk size": b"POST /v1/keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "length and chunks": (
        b"POST /v1/keys HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
}
REFUSED_HANDSHAKES = {
    "no key": (
        b"GET /v1/rooms/r/events HTTP/1.1\r\n" + WS_HEADERS + b"Sec-WebSocket-Version: 13\r\n\r\n",
        400,
        "malformed_request",
        "missing Sec-WebSocket-Key header",
    ),
    "old version": (
        b"GET /v1/rooms/r/events HTTP/1.1\r\n"
        + WS_HEADERS
        + WS_KEY
        + b"Sec-WebSocket-Version: 12\r\n\r\n",
        400,
        "malformed_request",
        "invalid Sec-WebSocket-Version header",
    ),
    "no WebSocket route": (
        b"GET /healthz HTTP/1.1\r\n" + WS_HEADERS + WS_KEY + b"Sec-WebSocket-Version: 13\r\n\r\n",
        403,
        "forbidden",
        "/v1/rooms/{room}/events",
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("edge")
    (root / "logs").mkdir()
    proc = Server(data_dir=root / "data", log_dir=root / "logs")
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def exchange(server: Server, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` on a new connection; the status, headers and body of the one answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):  # every answer here closes the connection
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def assert_error_shape(
    status: int, headers: dict[str, str], body: bytes, code: str
) -> dict[str, Any]:
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = orjson.loads(body)
    assert set(error) == {"error", "message", "details"}, error
    assert error["error"] == code and HTTP_STATUS[code] == status
    return dict(error)


@pytest.mark.parametrize("raw", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_request_gets_the_error_shape(server: Server, raw: bytes) -> None:
    status, headers, body = exchange(server, raw)
    assert status == 400
    assert headers["connection"] == "close"
    error = assert_error_shape(status, headers, body, "malformed_request")
    assert error["message"].startswith("the HTTP request could not be read")


@pytest.mark.parametrize(
    ("raw", "status", "code", "says"), REFUSED_HANDSHAKES.values(), ids=REFUSED_HANDSHAKES.keys()
)
def test_a_refused_websocket_handshake_gets_the_error_shape(
    server: Server, raw: bytes, status: int, code: str, says: str
) -> None:
    got, headers, body = exchange(server, raw)
    assert got == status
    assert says in assert_error_shape(got, headers, body, code)["message"]


def test_a_valid_handshake_still_opens_the_socket(server: Server) -> None:
    raw = b"GET /v1/rooms/r/events HTTP/1.1\r\n" + WS_HEADERS + WS_KEY
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw + b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), head


def test_a_request_the_app_answers_keeps_its_own_answer(server: Server) -> None:
    status, headers, body = exchange(server, b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == 404
    assert assert_error_shape(status, headers, body, "not_found")
