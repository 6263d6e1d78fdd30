"""The HTTP/1.1 protocol ``roomkey serve`` runs: uvicorn's httptools one, one send per response.

uvicorn writes a response's head and its body with two ``transport.write`` calls, and on a busy
loop each is its own ``send()`` system call and its own TCP segment (measured: the two writes
took a fifth of the event loop's time on ``POST /token`` under load). Here the transport holds a
response head back until the body that follows it in the same step, and writes both at once. A
head with nothing after it (a streamed response waiting for its first chunk) goes out at the end
of the loop's current pass, so nothing is delayed for longer than that, and the order of the
bytes never changes.

uvicorn's protocol classes are internal, not a public API, and uvicorn is at 0.x, where a minor
release may change them; pyproject.toml therefore pins uvicorn below the next minor (0.54 was
checked). Before lifting the bound, check in the new release that ``uvicorn.Config(http=...)``
still takes a protocol class; that ``HttpToolsProtocol`` (``uvicorn.protocols.http.httptools_impl``)
still receives its transport in ``connection_made`` and keeps ``self.loop``; that it still writes
a response head as one ``transport.write`` from ``HTTP/1.1 `` to the blank line, the body after
it; and that nothing there needs the real transport object (a type check, or bytes sent other
than through ``write``/``writelines``). Then run ``tests/api/test_http.py`` (a real server over
this protocol) and ``bench/token_endpoint.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD_START, _HEAD_END = b"HTTP/1.1 ", b"\r\n\r\n"


class CoalescingTransport:
    """A transport that writes a response head together with the bytes written after it."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data``; a response head waits for what follows it (at most one loop pass)."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(b"".join((held, data)))
        elif isinstance(data, bytes) and data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        """Write ``chunks`` in order, after anything held."""
        self.write(b"".join(chunks))

    def flush(self) -> None:
        """Write what is held now."""
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def write_eof(self) -> None:
        """Flush, then close the write side."""
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        """Flush, then close (the transport writes what it buffered before closing)."""
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping what is held (as the transport drops its own buffer)."""
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        """Whether the transport is closing (asked after every response, so not forwarded)."""
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # everything else (flow control, extra info, is_closing...) is the transport's own
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(wrapped)


__all__ = ["CoalescingHttpToolsProtocol", "CoalescingTransport"]
