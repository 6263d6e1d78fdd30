"""Rate limits: fixed one-minute windows, counted per node in memory or for every node in Redis.

The counting is the one of ``limits``' ``FixedWindowRateLimiter``: a window opens at a key's
first hit and lasts 60 s, every hit counts (refused ones too), and a hit is allowed while the
count is at most the limit; counters are separate per limit value.

- :class:`RateLimiter` counts in this process. It is kept here in a few lines because ``limits``'
  ``MemoryStorage`` starts a timer thread every 10 ms to expire keys, which costs the event loop
  more than the whole check (expired windows are dropped here on use and by an occasional sweep).
- :class:`SharedRateLimiter` counts in Redis (with ``redis_url``), so one limit holds across
  every node: a script that increments, opens the window and returns its remaining time, so a
  refusal's ``Retry-After`` needs no second round trip (``limits``' Redis storage runs the same
  increment, then asks for the expiry separately), and that counts a batch of hits in one
  call, so that a loaded node pays one round trip per batch rather than one per request
  (measured in bench/README.md, "Shared rate limits"). When Redis does not answer within
  :data:`REDIS_HIT_TIMEOUT_S`, the hit is counted by the node's own :class:`RateLimiter`
  instead (the limit then holds per node: at most N times the limit over N nodes), a warning is
  logged once per outage and the metrics say so; Redis is tried again after
  :data:`RETRY_REDIS_AFTER_S`, and counting goes back to it by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from roomkey.errors import RateLimitedError
from roomkey.service import ServerSettings
from roomkey.service.redis import RedisLink, open_redis

WINDOW_S = 60
_SWEEP_EVERY = 4096  # hits between two sweeps of expired windows
# A hit waits this long for Redis at most, then counts locally: a request never hangs on it.
REDIS_HIT_TIMEOUT_S = 0.25
# After a failure, hits count locally this long before Redis is tried again, so that an outage
# costs one timeout per pause rather than one per request.
RETRY_REDIS_AFTER_S = 1.0

log = logging.getLogger("roomkey.ratelimit")

# KEYS: window counters. ARGV[1]: the window in ms; ARGV[i + 1]: the hits on KEYS[i].
# Returns {count, ms left} for each key in turn. A counter without an expiry (set by hand, or
# left by a crash between the two calls, which a script rules out) is given one again.
_HIT_SCRIPT = """
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local hits = tonumber(ARGV[i + 1])
  local count = redis.call('INCRBY', key, hits)
  local left = window
  if count == hits then
    redis.call('PEXPIRE', key, window)
  else
    left = redis.call('PTTL', key)
    if left < 0 then
      redis.call('PEXPIRE', key, window)
      left = window
    end
  end
  out[2 * i - 1] = count
  out[2 * i] = left
end
return out
"""


class Limiter(Protocol):
    """What the API counts hits with (either limiter of this module)."""

    async def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key``; raises RateLimitedError over ``per_minute``."""

    async def close(self) -> None:
        """Release what the limiter holds."""


def refusal(per_minute: int, seconds_left: float) -> RateLimitedError:
    """The 429 of a hit over ``per_minute`` whose window ends in ``seconds_left``."""
    retry = max(1, math.ceil(seconds_left))
    return RateLimitedError(
        f"more than {per_minute} requests a minute; retry in {retry} s",
        retry_after_s=retry,
        limit_per_min=per_minute,
    )


class RateLimiter:
    """Counts hits per key in this process; raises :class:`RateLimitedError` (429)."""

    shared = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # (key, per_minute) -> [count, window end]
        self._windows: dict[tuple[str, int], list[float]] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._clock = clock

    async def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key``, or raise RateLimitedError if the limit is reached."""
        self.hit_now(key, per_minute)

    def hit_now(self, key: str, per_minute: int) -> None:
        """:meth:`hit`, synchronously."""
        now = self._clock()
        slot = (key, per_minute)
        with self._lock:
            window = self._windows.get(slot)
            if window is None or window[1] <= now:
                window = self._windows[slot] = [0, now + WINDOW_S]
            window[0] += 1
            count, reset = window
            self._hits += 1
            if self._hits >= _SWEEP_EVERY:
                self._hits = 0
                self._sweep(now)
        if count > per_minute:
            raise refusal(per_minute, reset - now)

    async def close(self) -> None:
        """Nothing to release."""

    def _sweep(self, now: float) -> None:
        expired = [slot for slot, (_, end) in self._windows.items() if end <= now]
        for slot in expired:
            del self._windows[slot]


class SharedRateLimiter:
    """Counts hits per key in Redis, for every node of the deployment (see the module).

    Hits are sent in batches: the hits that arrive while a batch is on its way (or within one
    turn of the event loop) go together in the next, as one script call that adds each key's
    number of hits. Counting stays exact (every hit waits for its count from Redis, and ``n``
    hits on a key that reach ``c`` are the hits numbered ``c - n + 1`` to ``c``), while a loaded
    node pays one round trip per batch rather than per request.
    """

    shared = True

    def __init__(self, link: RedisLink, clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.local = RateLimiter()  # while Redis does not answer
        self.failures = 0  # batches Redis failed to count (their hits then counted locally)
        self.local_hits = 0  # hits counted locally because Redis was out
        self.batches = 0  # batches Redis counted
        self._script: Any = link.client.register_script(_HIT_SCRIPT)
        self._clock = clock
        self._down_until: float | None = None  # while set, Redis is out
        self._pending: dict[str, list[asyncio.Future[tuple[int, int]]]] = {}
        self._sender: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """Whether hits are being counted per node because Redis did not answer."""
        return self._down_until is not None

    async def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key`` in Redis (locally while Redis is out).

        Raises RateLimitedError over ``per_minute``; never a Redis error.
        """
        if self._down_until is not None and self._clock() < self._down_until:
            self._count_locally(key, per_minute)
            return
        name = self.link.key("ratelimit", str(per_minute), key)
        waiter: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(name, []).append(waiter)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_batches())
        try:
            count, left_ms = await waiter
        except RedisOutError:
            self._count_locally(key, per_minute)
            return
        if count > per_minute:
            raise refusal(per_minute, left_ms / 1000)

    async def close(self) -> None:
        """Stop sending and close the Redis connections."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await self.link.close()

    def _count_locally(self, key: str, per_minute: int) -> None:
        self.local_hits += 1
        self.local.hit_now(key, per_minute)

    async def _send_batches(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: dict[str, list[asyncio.Future[tuple[int, int]]]]) -> None:
        names = list(batch)
        try:
            async with asyncio.timeout(REDIS_HIT_TIMEOUT_S):
                args = [WINDOW_S * 1000, *(len(batch[name]) for name in names)]
                answer = await self._script(keys=names, args=args)
        except Exception as exc:  # any failure of Redis: count locally, never refuse or hang
            self._went_down(exc)
            for waiters in batch.values():
                _settle(waiters, error=RedisOutError())
            return
        self.batches += 1
        if self._down_until is not None:
            self._down_until = None
            log.warning("Redis answers again: rate limits are shared across nodes again")
        for i, name in enumerate(names):
            count, left_ms, waiters = int(answer[2 * i]), int(answer[2 * i + 1]), batch[name]
            first = count - len(waiters) + 1
            _settle(waiters, counts=[(first + n, left_ms) for n in range(len(waiters))])

    def _went_down(self, exc: BaseException) -> None:
        self.failures += 1
        if self._down_until is None:
            log.warning(
                "Redis did not count rate-limit hits (%s): counting per node until it answers",
                type(exc).__name__,
            )
        self._down_until = self._clock() + RETRY_REDIS_AFTER_S


class RedisOutError(Exception):
    """Redis did not count a batch (internal: its hits are counted locally)."""


def _settle(
    waiters: list[asyncio.Future[tuple[int, int]]],
    *,
    counts: list[tuple[int, int]] | None = None,
    error: Exception | None = None,
) -> None:
    for n, waiter in enumerate(waiters):
        if waiter.done():  # its request was cancelled (the client went away)
            continue
        if counts is not None:
            waiter.set_result(counts[n])
        else:
            waiter.set_exception(error or RedisOutError())


def build_limiter(settings: ServerSettings) -> RateLimiter | SharedRateLimiter:
    """The node's limiter: shared through Redis with ``redis_url``, else this process's."""
    link = open_redis(settings)
    return RateLimiter() if link is None else SharedRateLimiter(link)


__all__ = [
    "REDIS_HIT_TIMEOUT_S",
    "RETRY_REDIS_AFTER_S",
    "WINDOW_S",
    "Limiter",
    "RateLimiter",
    "SharedRateLimiter",
    "build_limiter",
    "refusal",
]
