"""The seam for live state: one ordered, resumable event stream per room.

:class:`InMemoryBus` serves one node; :class:`~roomkey.service.admission.redis_bus.RedisBus`
serves several (events then reach sockets on every node in one order per room).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from roomkey.service.admission.events import Event

RoomKey = tuple[str, str]  # (project id, room)
DEFAULT_REPLAY = 1024  # events kept per room for clients that resume with ``since``
DEFAULT_QUEUE = 256  # events queued per socket before it counts as a slow consumer


class Subscription:
    """One listener of a room's stream (a WebSocket, a CLI watcher, a test).

    ``accepts`` decides which events it receives (its grant and session). Events wait in a
    bounded queue; when it is full the subscription is closed as a slow consumer
    (``overflowed``) rather than stalling the room. ``resync`` is set when it resumed from a
    ``since`` older than the replay buffer: it missed events and needs the room's state.

    The queue is a deque with one waiter future rather than an :class:`asyncio.Queue`: a
    publish offers each event to every socket of the room, and waking a listener is then one
    ``set_result``, without a queue's getter bookkeeping or a second future to watch for close.
    """

    __slots__ = (
        "_closed_waiters",
        "_events",
        "_on_close",
        "_waiter",
        "accepts",
        "closed",
        "max_queued",
        "overflowed",
        "resync",
        "room",
    )

    def __init__(
        self,
        room: RoomKey,
        accepts: Callable[[Event], bool],
        max_queued: int = DEFAULT_QUEUE,
    ) -> None:
        self.room = room
        self.accepts = accepts
        self.max_queued = max_queued
        self.overflowed = False
        self.closed = False
        self.resync = False
        self._events: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed_waiters: list[asyncio.Future[None]] = []
        self._on_close: Callable[[Subscription], None] | None = None

    def offer(self, event: Event) -> bool:
        """Queue ``event`` if accepted (True); close the subscription if it cannot keep up."""
        if self.closed or not self.accepts(event):
            return False
        if len(self._events) >= self.max_queued:
            self.overflowed = True
            self.close()
            return False
        self._events.append(event)
        self._wake()
        return True

    def pending(self) -> int:
        """Events queued and not yet taken."""
        return len(self._events)

    def take(self) -> Event | None:
        """The next queued event without waiting (None when none is queued)."""
        return self._events.popleft() if self._events else None

    async def next(self) -> Event | None:
        """The next event, or None once closed (slow consumer or unsubscribed)."""
        while not self._events:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._events.popleft()

    async def wait_closed(self) -> None:
        """Return once the subscription is closed (a slow consumer's, or unsubscribed)."""
        if self.closed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._closed_waiters.append(waiter)
        await waiter

    def close(self) -> None:
        """Stop receiving; wake whoever waits in :meth:`next` or :meth:`wait_closed`."""
        if self.closed:
            return
        self.closed = True
        self._wake()
        for waiter in self._closed_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._closed_waiters.clear()
        if self._on_close is not None:
            self._on_close(self)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AdmissionBus(Protocol):
    """Publishes events to a room's listeners, in one order, with per-room sequence numbers."""

    def publish(self, event: Event) -> Event:
        """Give ``event`` the room's next ``seq``, keep it for resumes, and deliver it. The
        event returned carries its ``seq`` where the bus gives it at once (one node); over
        Redis it has none yet (0): the number comes back with the event."""
        ...

    def subscribe(
        self,
        project_id: str,
        room: str,
        accepts: Callable[[Event], bool],
        *,
        since: int | None = None,
        queue_size: int = DEFAULT_QUEUE,
    ) -> Subscription:
        """Listen to a room; with ``since``, first receive the accepted events after it."""
        ...

    def publish_once(self, event: Event, key: str) -> None:
        """Publish ``event`` unless an event with the same ``key`` was published already, by
        any node (every node hears of a room's deactivation; the room hears it once)."""
        ...

    async def prepare(self, project_id: str, room: str) -> None:
        """Make the room's replay buffer and last ``seq`` current before a subscription."""
        ...

    def last_seq(self, project_id: str, room: str) -> int:
        """The room's latest sequence number (0 before any event)."""
        ...

    def listeners(self, project_id: str, room: str) -> int:
        """How many subscriptions a room has now."""
        ...


class _Stream:
    """One room's sequence counter, replay buffer and listeners."""

    def __init__(self, replay: int) -> None:
        self.seq = itertools.count(1)
        self.last = 0
        self.buffer: deque[Event] = deque(maxlen=replay)
        self.subscriptions: set[Subscription] = set()


class InMemoryBus:
    """:class:`AdmissionBus` for one node."""

    def __init__(self, replay: int = DEFAULT_REPLAY) -> None:
        self.replay = replay
        self._streams: dict[RoomKey, _Stream] = {}
        # running totals, read by the metrics endpoint
        self.published = 0
        self.delivered = 0
        self.dropped = 0  # subscriptions closed as slow consumers

    def _stream(self, key: RoomKey) -> _Stream:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(self.replay)
        return stream

    def publish(self, event: Event) -> Event:
        """See :meth:`AdmissionBus.publish`."""
        stream = self._stream((event.project_id, event.room))
        return self._deliver(stream, replace(event, seq=next(stream.seq), text=""))

    def publish_once(self, event: Event, key: str) -> None:
        """See :meth:`AdmissionBus.publish_once` (one node: its one caller publishes)."""
        self.publish(event)

    async def prepare(self, project_id: str, room: str) -> None:
        """See :meth:`AdmissionBus.prepare` (nothing to do on one node)."""

    def _deliver(self, stream: _Stream, event: Event) -> Event:
        """Keep a sequenced event for resumes and offer it to the room's subscriptions."""
        stream.last = event.seq
        sequenced = replace(event, text=event.encode())  # once, for every socket
        stream.buffer.append(sequenced)
        self.published += 1
        for subscription in list(stream.subscriptions):
            if subscription.offer(sequenced):
                self.delivered += 1
            elif subscription.overflowed and subscription.closed:
                self.dropped += 1
        return sequenced

    def listeners_total(self) -> int:
        """Subscriptions open now, over every room."""
        return sum(len(s.subscriptions) for s in self._streams.values())

    def subscribe(
        self,
        project_id: str,
        room: str,
        accepts: Callable[[Event], bool],
        *,
        since: int | None = None,
        queue_size: int = DEFAULT_QUEUE,
    ) -> Subscription:
        """See :meth:`AdmissionBus.subscribe`."""
        key = (project_id, room)
        stream = self._stream(key)
        subscription = Subscription(key, accepts, queue_size)
        subscription._on_close = lambda s: stream.subscriptions.discard(s)
        if since is not None and since < stream.last:
            oldest = stream.buffer[0].seq if stream.buffer else stream.last + 1
            if since + 1 < oldest:
                subscription.resync = True
            else:
                for event in stream.buffer:
                    if event.seq > since:
                        subscription.offer(event)
        stream.subscriptions.add(subscription)
        return subscription

    def last_seq(self, project_id: str, room: str) -> int:
        """See :meth:`AdmissionBus.last_seq`."""
        stream = self._streams.get((project_id, room))
        return stream.last if stream is not None else 0

    def listeners(self, project_id: str, room: str) -> int:
        """See :meth:`AdmissionBus.listeners`."""
        stream = self._streams.get((project_id, room))
        return len(stream.subscriptions) if stream is not None else 0
