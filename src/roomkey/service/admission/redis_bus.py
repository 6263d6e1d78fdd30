"""The admission bus over Redis: one order per room across every node.

Each event gets its room's next ``seq`` in Redis atomically with its publication (one Lua
script: the room's counter, a capped replay list for resumes, a ``PUBLISH`` on the deployment's
admission channel). Every node, the publisher included, delivers what the channel carries to its
own sockets: Redis delivers a channel's messages to each subscriber in the order it executed
the scripts, so every node sees each room's events in one order, and a client resumes with
``since`` on any node.

The channel also carries what nodes tell each other (session states and commands, see
:mod:`.cluster`); one sender task writes everything a node publishes, in the order it was
published, so a session's state always precedes the events about it and a command's reply.

``publish`` never waits: the event is queued for the sender and reaches the node's own sockets
when it comes back (a millisecond on loopback). While Redis is unreachable the sender keeps at
most :data:`MAX_QUEUED` messages (the oldest are dropped, counted in ``lost``) and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import orjson
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from roomkey.service.admission.bus import DEFAULT_REPLAY, InMemoryBus, RoomKey, _Stream
from roomkey.service.admission.events import Audience, Event, EventType
from roomkey.service.redis import RedisLink

log = logging.getLogger("roomkey.admission.redis")
MAX_QUEUED = 10_000  # messages a node keeps for Redis while it is unreachable
BATCH = 256  # messages written in one round trip
ROOM_TTL_S = 86_400  # a room's counter and replay list outlive a day without events
RETRY_S = (0.1, 0.2, 0.5, 1.0)  # back-off between attempts to reach Redis again

# KEYS: the room's counter, its replay list, the channel. ARGV: the event (JSON), the replay
# length, the TTL, the highest seq the publisher saw (a counter Redis lost restarts above it,
# so that a room's numbers never go back), a key making the event unique ('' if none).
_PUBLISH = """
if ARGV[5] ~= '' and not redis.call('SET', ARGV[5], '1', 'NX', 'EX', ARGV[3]) then
  return 0
end
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq < tonumber(ARGV[4]) then seq = tonumber(ARGV[4]) end
seq = seq + 1
redis.call('SET', KEYS[1], seq, 'EX', ARGV[3])
local message = 'e' .. seq .. ' ' .. ARGV[1]
redis.call('RPUSH', KEYS[2], message)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], message)
return seq
"""
# KEYS: the node's session hash, the channel. ARGV: the session id, its state ('' once ended).
_SHARE = """
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('PUBLISH', KEYS[2], 's' .. ARGV[3])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PUBLISH', KEYS[2], 's' .. ARGV[2])
end
return 1
"""

Handler = Callable[[bytes], Awaitable[None] | None]
Hook = Callable[[], Awaitable[None]]
Write = tuple[str, list[str], list[Any]]  # (script name or "publish", keys, args)


def encode_event(event: Event) -> bytes:
    """An event as the channel carries it (without its seq, which Redis gives)."""
    audience = event.audience
    return orjson.dumps(
        {
            "p": event.project_id,
            "r": event.room,
            "t": event.type.value,
            "at": event.at,
            "d": event.data,
            "a": [audience.everyone, audience.admitters, sorted(audience.sessions)],
        }
    )


def decode_event(seq: int, body: bytes) -> Event:
    """An event from the channel, with its seq (raises ValueError/KeyError on a bad one)."""
    raw = orjson.loads(body)
    everyone, admitters, sessions = raw["a"]
    audience = Audience(bool(everyone), bool(admitters), frozenset(sessions))
    return Event(
        EventType(raw["t"]), raw["r"], raw["at"], raw["d"], audience, seq, project_id=raw["p"]
    )


def _raw(value: object) -> bytes:
    """A reply of the client (which answers bytes: no ``decode_responses``) as bytes."""
    return value if isinstance(value, bytes) else str(value).encode()


class RedisBus(InMemoryBus):
    """:class:`~roomkey.service.admission.bus.AdmissionBus` shared by the nodes of one Redis
    namespace (see the module docstring). :meth:`start` runs its tasks, :meth:`close` ends them."""

    def __init__(self, link: RedisLink, replay: int = DEFAULT_REPLAY) -> None:
        super().__init__(replay)
        self.link = link
        self.channel = link.key("admission", "channel")
        self.connected = False  # subscribed to the channel now
        self.writing = True  # the last write to Redis succeeded
        self.lost = 0  # messages dropped while Redis was unreachable
        self.handlers: dict[bytes, Handler] = {}  # other kinds of messages: b"s", b"c", b"r"
        self.on_connect: list[Hook] = []  # after every (re)subscription
        self._queue: deque[Write] = deque()
        self._dropped = 0  # of the batch being sent, dropped from the queue meanwhile
        self._wake = asyncio.Event()
        self._loaded: set[RoomKey] = set()  # rooms whose replay list was read since connecting
        self._scripts = {
            "publish": link.client.register_script(_PUBLISH),
            "share": link.client.register_script(_SHARE),
        }
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def up(self) -> bool:
        """Whether Redis carries this node's messages now."""
        return self.connected and self.writing

    def queued(self) -> int:
        """Messages waiting for Redis."""
        return len(self._queue)

    def start(self) -> None:
        """Start the sender and the listener."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._send_loop()), loop.create_task(self._listen_loop())]

    async def close(self) -> None:
        """Stop both tasks (what is still queued is given a moment to go out first)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while self._queue and self.writing:
                    await asyncio.sleep(0.01)  # a last flush on the way out
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- publishing ----------------------------------------------------------------------

    def publish(self, event: Event) -> Event:
        """Queue ``event`` for Redis, which gives its ``seq``; the returned event has none."""
        self._publish(event, "")
        return event

    def publish_once(self, event: Event, key: str) -> None:
        """See :meth:`AdmissionBus.publish_once` (the key is kept in Redis for a day)."""
        self._publish(event, self.link.key("admission", "once", key))

    def _publish(self, event: Event, once: str) -> None:
        room = (event.project_id, event.room)
        keys = [self._key("seq", room), self._key("replay", room), self.channel]
        floor = self.last_seq(*room)
        self.write(("publish", keys, [encode_event(event), self.replay, ROOM_TTL_S, floor, once]))

    def share(self, node_hash: str, session_id: str, state: bytes, live: bool) -> None:
        """Queue a session's state: kept in ``node_hash`` while live, and told to every node."""
        kept = state if live else b""
        self.write(("share", [node_hash, self.channel], [session_id, kept, state]))

    def tell(self, kind: bytes, body: bytes) -> None:
        """Queue a message of another kind for every node (commands, replies)."""
        self.write(("publish", [], [self.channel, kind + body]))

    def write(self, item: Write) -> None:
        """Queue one write; the sender keeps the order."""
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            self.lost += 1
            self._dropped += 1
        self._queue.append(item)
        self._wake.set()

    def _key(self, kind: str, room: RoomKey) -> str:
        return self.link.key("admission", kind, room[0], room[1])

    async def _send_loop(self) -> None:
        failures = 0
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
            self._dropped = 0
            try:
                await self._send(batch)
            except (RedisError, OSError) as exc:
                if self.writing:
                    log.warning("admission: Redis unreachable (%s); retrying", type(exc).__name__)
                self.writing = False
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1
                continue
            failures, self.writing = 0, True
            for _ in range(len(batch) - min(self._dropped, len(batch))):
                self._queue.popleft()  # what went out (less what the queue dropped meanwhile)

    async def _send(self, batch: list[Write]) -> None:
        async with self.link.client.pipeline(transaction=False) as pipe:
            for name, keys, args in batch:
                if name == "publish" and not keys:
                    pipe.publish(args[0], args[1])
                else:
                    await self._scripts[name](keys, args, client=pipe)
            # a command Redis refuses is logged and not retried (it would be refused again
            # and hold up what follows); only a lost connection makes the batch go again
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception):
                log.error("admission: Redis refused a write: %s", type(result).__name__)

    # ---- listening -----------------------------------------------------------------------

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            pubsub = self.link.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._connected()
                failures = 0
                await self._listen(pubsub)
            except (RedisError, OSError) as exc:
                if self.connected or failures == 0:
                    log.warning("admission: Redis channel lost (%s)", type(exc).__name__)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1

    async def _connected(self) -> None:
        """Catch up rooms with listeners from their replay lists, then tell the hooks."""
        self._loaded.clear()
        self.connected = True
        for room in [k for k, s in self._streams.items() if s.subscriptions]:
            await self._catch_up(room)
        for hook in self.on_connect:
            await hook()
        log.info("admission: subscribed to Redis")

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            try:
                await self._dispatch(data)
            except (RedisError, OSError):
                raise
            except Exception:  # one bad message must not stop the node's delivery
                log.exception("admission: a message from Redis could not be handled")

    async def _dispatch(self, data: bytes) -> None:
        kind = data[:1]
        if kind == b"e":
            head, _, body = data.partition(b" ")
            await self._receive(decode_event(int(head[1:]), body))
            return
        handler = self.handlers.get(kind)
        if handler is not None:
            result = handler(data[1:])
            if result is not None:
                await result

    async def _receive(self, event: Event) -> None:
        """Deliver one event from the channel, first fetching any the node missed."""
        room = (event.project_id, event.room)
        stream = self._stream(room)
        if event.seq <= stream.last:
            return  # already delivered (read from the replay list first)
        if stream.last and event.seq > stream.last + 1 and stream.subscriptions:
            await self._catch_up(room)
            if event.seq <= stream.last:
                return
        self.published += 1
        self._deliver(stream, event)

    # ---- resuming ------------------------------------------------------------------------

    async def prepare(self, project_id: str, room: str) -> None:
        """Read the room's replay list once since connecting, so that a resume with
        ``since`` works on a node that was not following the room (see
        :meth:`AdmissionBus.prepare`). Without Redis, the node's own buffer serves."""
        key = (project_id, room)
        if key in self._loaded or not self.connected:
            return
        with contextlib.suppress(RedisError, OSError):
            await self._load(key, self._stream(key))
            self._loaded.add(key)

    async def _catch_up(self, room: RoomKey) -> None:
        """Deliver the events of ``room`` in its replay list that this node has not seen."""
        stream = self._stream(room)
        for event in await self._read(room):
            if event.seq > stream.last:
                self.published += 1
                self._deliver(stream, event)

    async def _load(self, room: RoomKey, stream: _Stream) -> None:
        """Merge the replay list into a room's buffer (events older than the node's own)."""
        events = {e.seq: e for e in await self._read(room)}
        events.update({e.seq: e for e in stream.buffer})
        merged = [events[seq] for seq in sorted(events)][-self.replay :]
        stream.buffer.clear()
        stream.buffer.extend(replace(e, text=e.encode()) for e in merged)
        if merged:
            stream.last = max(stream.last, merged[-1].seq)

    async def _read(self, room: RoomKey) -> list[Event]:
        raw = await self.link.client.lrange(self._key("replay", room), 0, -1)
        events = []
        for item in raw:
            head, _, body = _raw(item).partition(b" ")
            events.append(decode_event(int(head[1:]), body))
        return events
