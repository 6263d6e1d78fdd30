"""Per-caller rate limits (fixed one-minute windows, in memory, per node)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from roomkey.api.errors import ApiError


class RateLimiter:
    """Counts hits per key; raises a 429 ``rate_limited`` error with ``retry_after_s``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._items: dict[int, RateLimitItemPerMinute] = {}
        self._clock = clock

    def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key``, or raise if the limit is reached."""
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        if self._limiter.hit(item, key):
            return
        reset = self._limiter.get_window_stats(item, key).reset_time
        retry = max(1, math.ceil(reset - self._clock()))
        raise ApiError(
            "rate_limited",
            f"more than {per_minute} requests a minute; retry in {retry} s",
            429,
            retry_after_s=retry,
            limit_per_min=per_minute,
        )
