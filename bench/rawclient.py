"""Lean HTTP/1.1 and WebSocket clients for the benchmarks, so that the client is not what they
measure.

With a thousand sockets on one client core, ``httpx`` (its pool scans its connections on
every request) and the ``websockets`` client (a frame parsed and decoded in Python per socket
per event) spent more CPU than the server they load: the admission benchmark measured the
client. These two do the least a client must: keep-alive requests on a fixed set of
connections, and a WebSocket that is opened with a real handshake, sends masked frames, and
notes when bytes arrive (events are found in the raw stream by a marker; the server's frames
are never masked, so their text appears as sent). The tests use the real libraries; these
are for measuring only.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable


class HttpError(Exception):
    """The connection failed or the answer could not be read."""


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, body) of one request; raises :class:`HttpError`.

        A kept-alive connection the server closed meanwhile (its idle timeout) is reopened
        once, as every HTTP client does."""
        reused = self.writer is not None
        try:
            return await self._request(method, path, headers, body)
        except HttpError:
            if not reused:
                raise
            return await self._request(method, path, headers, body)

    async def _request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines.append(f"Content-Length: {len(body)}")
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, length = _parse_head(head)
            return status, await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None


def _parse_head(head: bytes) -> tuple[int, int]:
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value.strip())
    raise HttpError("the answer has no Content-Length")


class HttpPool:
    """``size`` keep-alive connections; a request waits for a free one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.free: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(HttpConnection(host, port))

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """See :meth:`HttpConnection.request`."""
        connection = await self.free.get()
        try:
            return await connection.request(method, path, headers, body)
        finally:
            self.free.put_nowait(connection)

    def close(self) -> None:
        """Drop every idle connection."""
        while not self.free.empty():
            self.free.get_nowait().close()


def mask_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final, masked client frame (RFC 6455 section 5.2)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class RawSocket(asyncio.Protocol):
    """One WebSocket after its handshake: ``on_data(now, data)`` for every chunk that arrives
    (the caller looks for its marker in the raw bytes)."""

    def __init__(self, on_data: Callable[[float, bytes], None]) -> None:
        self.on_data = on_data
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.handshake.done():
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                rest = bytes(self.buffer[end + 4 :])
                self.handshake.set_result(bytes(self.buffer[:end]))
                self.buffer.clear()
                if rest:
                    self.on_data(time.perf_counter(), rest)
            return
        self.on_data(time.perf_counter(), data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    def send_text(self, text: bytes) -> None:
        """Send one masked text frame."""
        assert self.transport is not None
        self.transport.write(mask_frame(text))

    def abort(self) -> None:
        """Drop the connection at once."""
        if self.transport is not None:
            self.transport.abort()


async def open_raw_socket(
    host: str, port: int, path: str, on_data: Callable[[float, bytes], None]
) -> RawSocket:
    """Open a WebSocket with a real upgrade handshake; raises ConnectionError when refused."""
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(lambda: RawSocket(on_data), host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert protocol.transport is not None
    protocol.transport.write(request.encode())
    head = await protocol.handshake
    if not head.startswith(b"HTTP/1.1 101"):
        protocol.abort()
        raise ConnectionError(f"the upgrade was refused: {head[:80]!r}")
    return protocol
