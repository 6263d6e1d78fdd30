"""The HTTP server's own answers in the error shape, for each protocol class of api/edge.py.

A real uvicorn server in-process with a trivial app (``tests/e2e/test_e2e_edge.py`` runs the
same requests against a real ``roomkey serve``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import uvicorn

from roomkey.api.edge import (
    JsonH11Protocol,
    JsonHttpToolsProtocol,
    JsonWebSocketsProtocol,
    websocket_refusal,
)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close"})  # refused before it opens: uvicorn's 403
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(params=[JsonHttpToolsProtocol, JsonH11Protocol], ids=["httptools", "h11"])
async def port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    config = uvicorn.Config(
        _app,
        host="127.0.0.1",
        port=free,
        http=request.param,
        ws=JsonWebSocketsProtocol,
        lifespan="off",
        log_level="critical",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield free
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _exchange(port: int, raw: bytes) -> tuple[bytes, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    answer = await asyncio.wait_for(reader.read(), 5)  # the server closes after answering
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in head.lower() + b"\r\n", head
    return head.split(b"\r\n")[0], orjson.loads(body)


async def test_an_unreadable_request_is_400_malformed_request(port: int) -> None:
    status, error = await _exchange(port, b"GARBAGE\r\n\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    assert error["error"] == "malformed_request" and set(error) == {"error", "message", "details"}


async def test_a_refused_websocket_handshake_is_in_the_error_shape(port: int) -> None:
    upgrade = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    status, error = await _exchange(port, upgrade + b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    assert error["error"] == "malformed_request"
    assert error["message"] == "not a valid WebSocket handshake: missing Sec-WebSocket-Key header."
    key = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    status, error = await _exchange(port, upgrade + key)
    assert status == b"HTTP/1.1 403 Forbidden"
    assert error["error"] == "forbidden"


@pytest.mark.parametrize(
    ("status", "code"), [(400, "malformed_request"), (403, "forbidden"), (500, "internal_error")]
)
def test_websocket_refusals_map_to_codes_of_the_same_status(status: int, code: str) -> None:
    assert websocket_refusal(status, "Failed to open a WebSocket connection: x.\n").code == code
    assert websocket_refusal(426, "Upgrade Required").code == "http_error"
