"""Serving one WebSocket of a room's live events: authentication, resume, forwarding, frames in.

Independent of the web framework: :meth:`EventStream.serve` talks to a
:class:`~roomkey.service.admission.protocol.Transport` (three async calls), so the protocol
(described in :mod:`roomkey.service.admission.protocol`) is tested without HTTP and the route
only adapts its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from roomkey.errors import (
    BadFrameError,
    ForbiddenError,
    FrameTooLargeError,
    InternalServerError,
    InvalidSessionError,
    RateLimitedError,
    RoomkeyError,
    UnknownMessageTypeError,
)
from roomkey.service.admission.bus import DEFAULT_QUEUE, AdmissionBus, Subscription
from roomkey.service.admission.events import Event, EventType
from roomkey.service.admission.protocol import (
    CloseCode,
    StreamLimits,
    Transport,
    TransportClosed,
    error_frame,
)
from roomkey.service.admission.sessions import Session, SessionStatus, accepts

log = logging.getLogger("roomkey.admission.stream")
SESSION_PREFIX = "rks1."
# the most replayed events a resuming socket's queue makes room for (beyond: a resync anyway)
MAX_BACKLOG = 65_536


@dataclass(frozen=True, slots=True)
class Listener:
    """Who a socket serves: a session, or a watcher (a server token with rooms:moderate)."""

    project_id: str
    room: str
    session: Session | None = None


class _Close(Exception):
    """End the socket with ``code``, after an error frame when ``error`` is set."""

    def __init__(self, code: CloseCode, reason: str, error: RoomkeyError | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.error = error


SessionLookup = Callable[[str], Session | Awaitable[Session]]
# (Authorization header, room) -> the caller's project id; raises a RoomkeyError if refused
WatcherLookup = Callable[[str, str], str]
Snapshot = Callable[[Session | None], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
Hook = Callable[[Session], Awaitable[None] | None]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def watcher_accepts(event: Event) -> bool:
    """What a watcher receives: what admitters and everyone receive (hidden ones too: it
    moderates), never events addressed to named sessions alone."""
    return event.audience.everyone or event.audience.admitters


class EventStream:
    """Serves sockets of one node's rooms over ``bus`` (see the module docstring)."""

    def __init__(
        self,
        bus: AdmissionBus,
        authenticate_session: SessionLookup,
        snapshot: Snapshot,
        *,
        authorize_watcher: WatcherLookup | None = None,
        attach: Hook | None = None,
        detach: Hook | None = None,
        admit_policy: Callable[[str, str], str] = lambda project_id, room: "direct",
        limits: StreamLimits = StreamLimits(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.authenticate_session = authenticate_session
        self.authorize_watcher = authorize_watcher
        self.snapshot = snapshot
        self.attach = attach
        self.detach = detach
        self.admit_policy = admit_policy
        self.limits = limits
        self.clock = clock
        self._sockets: set[_Socket] = set()
        self._watchdog: asyncio.Future[None] | None = None

    async def serve(
        self, transport: Transport, room: str, header: str | None, since: int | None
    ) -> None:
        """Run one socket to its end; closes it with a :class:`CloseCode`, never raises
        (except cancellation)."""
        socket = _Socket(self, transport, room)
        self._sockets.add(socket)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.ensure_future(self._watch_sends())
        try:
            await socket.run(header, since)
        except _Close as close:
            await socket.finish(close)
        except TransportClosed:
            pass
        except Exception:
            log.exception("event stream of room %r failed", room)
            error = InternalServerError("the event stream failed; reconnect with since")
            await socket.finish(_Close(CloseCode.SERVER_ERROR, "server error", error))
        finally:
            self._sockets.discard(socket)

    async def _watch_sends(self) -> None:
        """Stop every socket whose frame has waited longer than ``send_timeout_s`` to be
        taken (one timer for the node's sockets, not one per frame sent)."""
        timeout_s = self.limits.send_timeout_s
        while self._sockets:
            await asyncio.sleep(timeout_s / 4)
            now = time.monotonic()
            for socket in list(self._sockets):
                since = socket.sending_since
                if since is not None and now - since >= timeout_s:
                    socket.stall()


async def refuse(
    transport: Transport,
    error: RoomkeyError,
    code: CloseCode,
    limits: StreamLimits = StreamLimits(),
) -> None:
    """Close a socket that will not be served (the route found the request unusable), after
    an error frame."""
    await _finish(transport, _Close(code, error.code, error), limits.send_timeout_s)


async def _finish(transport: Transport, close: _Close, timeout_s: float) -> None:
    # a socket that takes no frame may not take the close either: give up on it then
    with contextlib.suppress(TransportClosed, TimeoutError):
        async with asyncio.timeout(timeout_s):
            if close.error is not None:
                await transport.send_json(error_frame(close.error))
            await transport.close(int(close.code), close.reason)


class _Socket:
    """The state of one socket while it is served."""

    def __init__(self, stream: EventStream, transport: Transport, room: str) -> None:
        self.stream = stream
        self.transport = transport
        self.room = room
        self.send_lock = asyncio.Lock()
        self.window_start = 0.0
        self.window_count = 0
        # when the frame being sent was handed over (None when no send waits): the stream's
        # watchdog stalls a socket that takes longer than send_timeout_s
        self.sending_since: float | None = None
        self.stalled = False
        self.tasks: set[asyncio.Future[None]] = set()

    def stall(self) -> None:
        """Give up on a socket that does not take its frames: its tasks end, it closes 1013."""
        self.stalled = True
        for task in self.tasks:
            task.cancel()

    # ---- the whole socket ---------------------------------------------------------------

    async def run(self, header: str | None, since: int | None) -> None:
        listener, since = await self.authenticate(header, since)
        session = listener.session
        if session is not None and self.stream.attach is not None:
            await _maybe_await(self.stream.attach(session))
        try:
            await self.listen(listener, since)
        finally:
            if session is not None and self.stream.detach is not None:
                await _maybe_await(self.stream.detach(session))

    async def listen(self, listener: Listener, since: int | None) -> None:
        subscription = await self.subscribe(listener, since)
        tasks = self.tasks = {
            asyncio.ensure_future(self.pump(subscription, listener.session)),
            asyncio.ensure_future(self.read()),
            # an overflow closes the socket even while a send to it hangs
            asyncio.ensure_future(subscription.wait_closed()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if self.stalled:
                raise _Close(CloseCode.SLOW_CONSUMER, "slow consumer")
            for task in done:
                task.result()  # re-raises _Close / TransportClosed
            raise _ended_subscription(subscription)
        finally:
            subscription.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def finish(self, close: _Close) -> None:
        async with self.send_lock:
            await _finish(self.transport, close, self.stream.limits.send_timeout_s)

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.send_text(orjson.dumps(message).decode("utf-8"))

    async def send_text(self, text: str) -> None:
        # the pump and the reader both send; one frame at a time
        async with self.send_lock:
            if self.stalled:
                raise _Close(CloseCode.SLOW_CONSUMER, "slow consumer")
            self.sending_since = time.monotonic()
            try:
                await self.transport.send_text(text)
            finally:
                self.sending_since = None

    # ---- authentication -------------------------------------------------------------------

    async def authenticate(
        self, header: str | None, since: int | None
    ) -> tuple[Listener, int | None]:
        if header is not None and header.strip():
            return await self.identify(header.strip(), None), since
        message = await self.first_message()
        since = _since(message.get("since", since))
        return await self.identify(None, message), since

    async def first_message(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.stream.limits.auth_timeout_s):
                text = await self.transport.receive_text()
        except TimeoutError:
            timeout_s = self.stream.limits.auth_timeout_s
            error = InvalidSessionError("no auth message in time", timeout_s=timeout_s)
            raise _Close(CloseCode.AUTH_TIMEOUT, "auth timeout", error) from None
        try:
            message = self.parse(text)
        except BadFrameError as exc:
            raise _Close(CloseCode.BAD_FRAME, "bad frame", exc) from None
        if message["type"] != "auth":
            first = 'the first message must be {"type": "auth", "session_token": ...}'
            raise _Close(CloseCode.BAD_FRAME, "bad frame", BadFrameError(first))
        return message

    async def identify(self, header: str | None, message: Mapping[str, Any] | None) -> Listener:
        try:
            credential, server_header = _credential(header, message)
            if credential is not None:
                return await self.session_listener(credential)
            return self.watcher_listener(server_header)
        except ForbiddenError as exc:
            raise _Close(CloseCode.FORBIDDEN, "forbidden", exc) from None
        except BadFrameError as exc:
            raise _Close(CloseCode.BAD_FRAME, "bad frame", exc) from None
        except RoomkeyError as exc:
            raise _Close(CloseCode.UNAUTHORIZED, "unauthorized", exc) from None

    async def session_listener(self, credential: str) -> Listener:
        session: Session = await _maybe_await(self.stream.authenticate_session(credential))
        if session.room != self.room:
            raise InvalidSessionError("the session belongs to another room", room=self.room)
        if not session.live:
            raise InvalidSessionError("the session has ended", status=session.status.value)
        return Listener(session.project_id, self.room, session)

    def watcher_listener(self, header: str | None) -> Listener:
        if self.stream.authorize_watcher is None or header is None:
            raise InvalidSessionError("send a session credential (rks1...)")
        project_id = self.stream.authorize_watcher(header, self.room)
        return Listener(project_id, self.room)

    # ---- events out -----------------------------------------------------------------------

    async def subscribe(self, listener: Listener, since: int | None) -> Subscription:
        """Subscribe, then say ``ready`` (and ``resync`` when resuming is impossible): nothing
        published after ``ready`` can be missed."""
        bus, session = self.stream.bus, listener.session
        if session is not None:
            policy = self.stream.admit_policy(listener.project_id, self.room)
            accept = accepts(session, policy)
        else:
            accept = watcher_accepts
        await bus.prepare(listener.project_id, self.room)
        last = bus.last_seq(listener.project_id, self.room)
        # a ``since`` the room never reached (its counter restarted with the node) resyncs too
        ahead = since is not None and since > last
        since = None if ahead else since
        # room for the replay on top of the usual queue: a resume must not overflow at once
        backlog = min(last - since, MAX_BACKLOG) if since is not None else 0
        subscription = bus.subscribe(
            listener.project_id, self.room, accept, since=since, queue_size=DEFAULT_QUEUE + backlog
        )
        await self.send(
            {
                "type": "ready",
                "session_id": session.id if session else None,
                "status": session.status.value if session else "watching",
                "last_seq": last,
            }
        )
        if subscription.resync or ahead:
            state = await _maybe_await(self.stream.snapshot(session))
            event = Event(EventType.RESYNC, self.room, self.stream.clock(), state, seq=last)
            await self.send(event.to_json())
        return subscription

    async def pump(self, subscription: Subscription, session: Session | None) -> None:
        while True:
            event = await subscription.next()
            if event is None or subscription.overflowed:
                raise _ended_subscription(subscription)
            await self.send_text(event.encode())
            # the session ended: close once what was queued before (its ending event among
            # them) is sent, not right after whichever event happened to be in flight
            if session is not None and not session.live and not subscription.pending():
                raise _ended(session)

    # ---- frames in ------------------------------------------------------------------------

    async def read(self) -> None:
        while True:
            text = await self.transport.receive_text()
            try:
                message = self.parse(text)
            except BadFrameError as exc:
                await self.send(error_frame(exc))
                continue
            if message["type"] == "ping":
                await self.send({"type": "pong", "at": self.stream.clock()})
            elif message["type"] == "auth":
                await self.send(error_frame(BadFrameError("already authenticated")))
            else:
                error = UnknownMessageTypeError(
                    f"unknown message type {message['type']!r}; known: ping", type=message["type"]
                )
                await self.send(error_frame(error))

    def parse(self, text: str) -> dict[str, Any]:
        """A message as an object with a string ``type``; raises :class:`BadFrameError`, or
        :class:`_Close` for a flood or an oversize frame."""
        self.count_message()
        limit = self.stream.limits.max_frame_bytes
        if len(text) > limit or len(text.encode("utf-8")) > limit:
            error = FrameTooLargeError(f"a message has at most {limit} bytes", limit=limit)
            raise _Close(CloseCode.TOO_BIG, "frame too large", error)
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BadFrameError("the message is not JSON") from None
        if not isinstance(message, dict):
            raise BadFrameError("the message is not a JSON object")
        if not isinstance(message.get("type"), str):
            raise BadFrameError('the message has no string "type"')
        return message

    def count_message(self) -> None:
        now = time.monotonic()
        if now - self.window_start >= 1.0:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        limit = self.stream.limits.max_messages_per_s
        if self.window_count > limit:
            error = RateLimitedError(f"more than {limit} messages a second", limit=limit)
            raise _Close(CloseCode.FLOOD, "flood", error)


def _credential(
    header: str | None, message: Mapping[str, Any] | None
) -> tuple[str | None, str | None]:
    """(session credential, server token header): one of them is set."""
    if header is not None:
        scheme, _, rest = header.partition(" ")
        bare = rest.strip() if scheme.lower() == "bearer" and rest else header
        return (bare, None) if bare.startswith(SESSION_PREFIX) else (None, header)
    assert message is not None
    session_token, token = message.get("session_token"), message.get("token")
    if isinstance(session_token, str):
        return session_token, None
    if isinstance(token, str) and token:
        return None, f"Bearer {token}"
    raise BadFrameError('the auth message needs "session_token" (or a server "token")')


def _since(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise _Close(
            CloseCode.BAD_FRAME, "bad frame", BadFrameError("since is a sequence number >= 0")
        )
    return value


def _ended_subscription(subscription: Subscription) -> _Close:
    if subscription.overflowed:
        return _Close(CloseCode.SLOW_CONSUMER, "slow consumer")
    return _Close(CloseCode.NORMAL, "stream closed")


def _ended(session: Session) -> _Close:
    code = (
        CloseCode.ENDED
        if session.status in (SessionStatus.REMOVED, SessionStatus.REPLACED)
        else CloseCode.NORMAL
    )
    return _Close(code, f"session {session.status.value}")
