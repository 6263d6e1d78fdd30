"""The HTTP protocol of ``roomkey serve``: one send per response, bytes never reordered."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from roomkey.api.http import CoalescingHttpToolsProtocol, CoalescingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """Keeps every write (each one would be a send() on a socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def is_closing(self) -> bool:
        return self.closed


async def test_a_head_goes_out_with_its_body_in_one_write() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b"ok")
    assert inner.writes == [HEAD + b"ok"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert inner.writes == [HEAD + b"ok"]


async def test_a_lone_head_goes_out_at_the_end_of_the_loop_pass() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    transport.write(b"ok")  # a later body is written at once, after the head
    assert inner.writes == [HEAD, b"ok"]


async def test_other_bytes_are_written_at_once_and_in_order() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"chunk")
    transport.writelines([HEAD, b"o", b"k"])  # not a lone head: written at once
    transport.write(HEAD)
    transport.write_eof()
    assert inner.writes == [b"chunk", HEAD + b"ok", HEAD, b"<eof>"]


async def test_close_flushes_and_abort_drops() -> None:
    loop = asyncio.get_running_loop()
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, loop)
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD] and inner.closed
    other = RecordingTransport()
    aborted = CoalescingTransport(other, loop)
    aborted.write(HEAD)
    aborted.abort()
    await asyncio.sleep(0)
    assert other.writes == [] and other.closed
    assert aborted.is_closing() is True  # everything else is the transport's own


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first ", "more_body": True})
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"second"})
        return
    body = scope["path"].encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        _app,
        host="127.0.0.1",
        port=port,
        http=CoalescingHttpToolsProtocol,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_a_real_server_answers_over_keep_alive(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as client:
        for i in range(20):
            response = await client.post(f"/r{i}", content=b"x")
            assert (response.status_code, response.text) == (200, f"/r{i}")
        streamed = await client.get("/stream")
        assert streamed.text == "first second"
        assert streamed.headers["transfer-encoding"] == "chunked"
