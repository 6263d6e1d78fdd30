"""Per-caller rate limits (fixed one-minute windows, in memory, per node).

The counting is the one of ``limits``' ``FixedWindowRateLimiter`` over its ``MemoryStorage``: a
window opens at a key's first hit and lasts 60 s, every hit counts (refused ones too), and a hit
is allowed while the count is at most the limit; counters are separate per limit value. It is
kept here in a few lines because that storage starts a timer thread every 10 ms to expire keys,
which costs the event loop more than the whole check (expired windows are dropped here on use
and by an occasional sweep).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from roomkey.errors import RateLimitedError

WINDOW_S = 60
_SWEEP_EVERY = 4096  # hits between two sweeps of expired windows


class RateLimiter:
    """Counts hits per key; raises :class:`RateLimitedError` (429) with ``retry_after_s``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # (key, per_minute) -> [count, window end]
        self._windows: dict[tuple[str, int], list[float]] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._clock = clock

    def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key``, or raise if the limit is reached."""
        now = time.time()
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
        if count <= per_minute:
            return
        retry = max(1, math.ceil(reset - self._clock()))
        raise RateLimitedError(
            f"more than {per_minute} requests a minute; retry in {retry} s",
            retry_after_s=retry,
            limit_per_min=per_minute,
        )

    def _sweep(self, now: float) -> None:
        expired = [slot for slot, (_, end) in self._windows.items() if end <= now]
        for slot in expired:
            del self._windows[slot]
