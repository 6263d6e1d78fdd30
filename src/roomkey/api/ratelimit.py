"""Rate limits: fixed one-minute windows, counted per node in memory or for every node in Redis.

The counting is the one of ``limits``' ``FixedWindowRateLimiter``: a window opens at a key's
first hit and lasts 60 s, every hit counts (refused ones too), and a hit is allowed while the
count is at most the limit; counters are separate per limit value.

- :class:`RateLimiter` counts in this process. It is kept here in a few lines because ``limits``'
  ``MemoryStorage`` starts a timer thread every 10 ms to expire keys, which costs the event loop
  more than the whole check (expired windows are dropped here on use and by an occasional sweep).
- :class:`SharedRateLimiter` counts in Redis (with ``redis_url``), so one limit holds across
  every node: one ``EVALSHA`` per hit of a script that increments, opens the window and returns
  its remaining time, so a refusal's ``Retry-After`` needs no second round trip (``limits``'
  Redis storage runs the same increment, then asks for the expiry separately; measured in
  bench/README.md, "Shared rate limits"). When Redis does not answer within
  :data:`REDIS_HIT_TIMEOUT_S`, the hit is counted by the node's own :class:`RateLimiter`
  instead (the limit then holds per node: at most N times the limit over N nodes), a warning is
  logged once per outage and the metrics say so; Redis is tried again after
  :data:`RETRY_REDIS_AFTER_S`, and counting goes back to it by itself.
"""

from __future__ import annotations

import asyncio
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

# KEYS[1]: the window's counter. ARGV[1]: the window in ms. Returns {count, ms left}.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {count, tonumber(ARGV[1])}
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
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
    """Counts hits per key in Redis, for every node of the deployment (see the module)."""

    shared = True

    def __init__(self, link: RedisLink, clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.local = RateLimiter()  # while Redis does not answer
        self.failures = 0  # hits Redis failed to count (each one counted locally)
        self.local_hits = 0  # hits counted locally because Redis was out
        self._script: Any = link.client.register_script(_HIT_SCRIPT)
        self._clock = clock
        self._down_until: float | None = None  # while set, Redis is out

    @property
    def degraded(self) -> bool:
        """Whether hits are being counted per node because Redis did not answer."""
        return self._down_until is not None

    async def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key`` in Redis (locally while Redis is out).

        Raises RateLimitedError over ``per_minute``; never a Redis error.
        """
        if self._down_until is not None and self._clock() < self._down_until:
            self.local_hits += 1
            self.local.hit_now(key, per_minute)
            return
        name = self.link.key("ratelimit", str(per_minute), key)
        try:
            async with asyncio.timeout(REDIS_HIT_TIMEOUT_S):
                count, left_ms = await self._script(keys=[name], args=[WINDOW_S * 1000])
        except Exception as exc:  # any failure of Redis: count here, never refuse or hang
            self._went_down(exc)
            self.local_hits += 1
            self.local.hit_now(key, per_minute)
            return
        if self._down_until is not None:
            self._down_until = None
            log.warning("Redis answers again: rate limits are shared across nodes again")
        if int(count) > per_minute:
            raise refusal(per_minute, int(left_ms) / 1000)

    async def close(self) -> None:
        """Close the Redis connections."""
        await self.link.close()

    def _went_down(self, exc: BaseException) -> None:
        self.failures += 1
        if self._down_until is None:
            log.warning(
                "Redis did not count a rate-limit hit (%s): counting per node until it answers",
                type(exc).__name__,
            )
        self._down_until = self._clock() + RETRY_REDIS_AFTER_S


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
