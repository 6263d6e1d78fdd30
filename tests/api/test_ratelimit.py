"""Rate limits counted in Redis (the machine's server, a namespace per test) and what a node
does while Redis is out (a private redis-server, stopped and started again)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_support import PrivateRedis, new_namespace, require_redis
from roomkey.api.ratelimit import RETRY_REDIS_AFTER_S, RateLimiter, SharedRateLimiter
from roomkey.errors import RateLimitedError
from roomkey.service.redis import RedisLink, open_redis
from roomkey.service.settings import ServerSettings


def link_to(url: str, namespace: str) -> RedisLink:
    link = open_redis(ServerSettings(redis_url=url, redis_namespace=namespace))
    assert link is not None
    return link


class Clock:
    """The limiter's clock for its pause after a failure (no test waits the pause out)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[SharedRateLimiter, SharedRateLimiter]]:
    """Two limiters as two nodes of one deployment see Redis: one namespace, two clients."""
    url, namespace = require_redis(), new_namespace()
    a, b = SharedRateLimiter(link_to(url, namespace)), SharedRateLimiter(link_to(url, namespace))
    try:
        yield a, b
    finally:
        keys = [k async for k in a.link.client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await a.link.client.delete(*keys)
        await a.close()
        await b.close()


async def test_two_nodes_count_one_limit(nodes: tuple[SharedRateLimiter, ...]) -> None:
    a, b = nodes
    for i in range(6):
        await (a if i % 2 else b).hit("issue:k1", 6)
    with pytest.raises(RateLimitedError) as refused:
        await a.hit("issue:k1", 6)
    assert 1 <= refused.value.details["retry_after_s"] <= 60
    assert refused.value.details["limit_per_min"] == 6
    with pytest.raises(RateLimitedError):
        await b.hit("issue:k1", 6)  # refused hits count too, on every node
    await b.hit("issue:k2", 6)  # another key, another counter
    await b.hit("issue:k1", 7)  # another limit value, another counter
    assert not a.degraded and not b.degraded and a.failures == b.failures == 0


async def test_concurrent_hits_on_two_nodes_are_counted_exactly(
    nodes: tuple[SharedRateLimiter, ...],
) -> None:
    a, b = nodes
    hits = [(a if i % 2 else b).hit("issue:k", 30) for i in range(50)]
    outcomes = await asyncio.gather(*hits, return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, RateLimitedError)]
    assert len(refused) == 20 and outcomes.count(None) == 30
    assert a.batches + b.batches < 50  # sent together, not one call per hit


async def test_the_window_lives_under_the_namespace_and_expires(
    nodes: tuple[SharedRateLimiter, ...],
) -> None:
    a, _ = nodes
    await a.hit("verify:addr:10.0.0.1", 100)
    name = a.link.key("ratelimit", "100", "verify:addr:10.0.0.1")
    assert name.startswith(a.link.namespace + ":")
    assert await a.link.client.get(name) == b"1"
    assert 0 < await a.link.client.pttl(name) <= 60_000


async def test_a_window_that_lost_its_expiry_gets_one_again(
    nodes: tuple[SharedRateLimiter, ...],
) -> None:
    a, _ = nodes
    name = a.link.key("ratelimit", "3", "issue:k")
    await a.link.client.set(name, 5)  # no TTL: it would never reset
    with pytest.raises(RateLimitedError) as refused:
        await a.hit("issue:k", 3)
    assert refused.value.details["retry_after_s"] == 60
    assert 0 < await a.link.client.pttl(name) <= 60_000


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_redis_out_counts_per_node_without_hanging_then_recovers(
    redis_server: PrivateRedis,
) -> None:
    clock = Clock()
    limiter = SharedRateLimiter(link_to(redis_server.url, new_namespace()), clock=clock)
    try:
        await limiter.hit("issue:k", 2)
        redis_server.stop()
        started = time.monotonic()
        await limiter.hit("issue:k", 2)  # Redis out: counted here, not refused, not hung
        await limiter.hit("issue:k", 2)
        with pytest.raises(RateLimitedError):
            await limiter.hit("issue:k", 2)  # the node's own count still limits
        assert time.monotonic() - started < 5  # one short timeout at most, not one per hit
        assert limiter.degraded and limiter.failures == 1 and limiter.local_hits == 3
        redis_server.start()
        clock.now += RETRY_REDIS_AFTER_S
        deadline = time.monotonic() + 10
        while limiter.degraded:  # a reconnection may take a try or two
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            clock.now += RETRY_REDIS_AFTER_S
            await limiter.hit("issue:other", 100)
        client = Redis.from_url(redis_server.url)
        try:
            assert await client.keys("*:ratelimit:100:issue:other") != []
        finally:
            await client.aclose()
    finally:
        await limiter.close()


async def test_a_frozen_redis_costs_one_short_timeout(redis_server: PrivateRedis) -> None:
    clock = Clock()
    limiter = SharedRateLimiter(link_to(redis_server.url, new_namespace()), clock=clock)
    assert redis_server.process is not None
    pid = redis_server.process.pid
    try:
        await limiter.hit("issue:k", 10)  # connected
        os.kill(pid, signal.SIGSTOP)  # the connection stays open; nothing answers
        started = time.monotonic()
        for _ in range(5):
            await limiter.hit("issue:k", 10)
        assert time.monotonic() - started < 2  # one timeout (0.25 s), then local counting
        assert limiter.degraded and limiter.failures == 1
    finally:
        os.kill(pid, signal.SIGCONT)
        await limiter.close()


async def test_the_local_limiter_counts_one_window_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    await limiter.hit("k", 1)
    with pytest.raises(RateLimitedError) as refused:
        await limiter.hit("k", 1)
    assert refused.value.details["retry_after_s"] == 60
    clock.now += 60
    await limiter.hit("k", 1)  # a new window
