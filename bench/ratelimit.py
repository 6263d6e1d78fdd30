"""The cost of one rate-limit hit: in memory, roomkey's Redis script, and ``limits``' own
Redis storage (``limits.aio``, the redis-py implementation), on the same Redis server.

    .venv/bin/python bench/ratelimit.py                 # 5 rounds of 20,000 hits each, medians
    .venv/bin/python bench/ratelimit.py --quick         # 1 round of 2,000 hits
    .venv/bin/python bench/ratelimit.py --json          # one machine-readable line at the end

Each case makes its hits one after another (one request's view: CPU and round trip) and as 64
concurrent tasks (a loaded node's view: CPU per hit), on one key whose limit is never reached,
so every hit takes the allowed path that a served request takes; roomkey's limiter sends the
hits that arrive together as one batch (one script call). ``limits`` counts with
``FixedWindowRateLimiter.hit`` (an increment script); roomkey's script returns the window's
remaining time too, so a refusal needs no second call (``limits`` asks ``TTL`` separately).
Keys go under a namespace of the run's own, deleted at the end. A benchmark, never a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from roomkey.api.ratelimit import RateLimiter, SharedRateLimiter
from roomkey.service.redis import open_redis
from roomkey.service.settings import ServerSettings

DEFAULT_REDIS = os.environ.get("ROOMKEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CONCURRENCY = 64
Hit = Callable[[], Awaitable[Any]]


async def sequential(hit: Hit, n: int) -> float:
    """Microseconds per hit, one after another."""
    start = time.perf_counter()
    for _ in range(n):
        await hit()
    return (time.perf_counter() - start) / n * 1e6


async def concurrent(hit: Hit, n: int) -> float:
    """Microseconds of wall time per hit with CONCURRENCY tasks hitting at once."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await hit()

    start = time.perf_counter()
    await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))
    return (time.perf_counter() - start) / (n // CONCURRENCY * CONCURRENCY) * 1e6


async def cases(url: str, namespace: str) -> tuple[dict[str, Hit], Callable[[], Awaitable[None]]]:
    from limits import RateLimitItemPerMinute
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import FixedWindowRateLimiter

    memory = RateLimiter()
    link = open_redis(ServerSettings(redis_url=url, redis_namespace=namespace))
    assert link is not None
    shared = SharedRateLimiter(link)
    storage = RedisStorage(
        "async+" + url, implementation="redispy", key_prefix=f"{namespace}:limits"
    )
    fixed, item = FixedWindowRateLimiter(storage), RateLimitItemPerMinute(10**9)

    async def limits_hit() -> None:
        if not await fixed.hit(item, "issue:bench"):
            raise RuntimeError("limits refused a hit under the limit")

    async def cleanup() -> None:
        keys = [k async for k in link.client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await link.client.delete(*keys)
        await shared.close()

    hits: dict[str, Hit] = {
        "memory (per node)": lambda: memory.hit("issue:bench", 10**9),
        "roomkey script (Redis)": lambda: shared.hit("issue:bench", 10**9),
        "limits.aio FixedWindow (Redis)": limits_hit,
    }
    return hits, cleanup


async def run(args: argparse.Namespace) -> dict[str, Any]:
    note = print if not args.json else (lambda *a, **k: print(*a, **k, file=sys.stderr))
    hits, cleanup = await cases(args.redis_url, f"rkbench_{secrets.token_hex(4)}")
    results: dict[str, dict[str, list[float]]] = {name: {"seq": [], "c64": []} for name in hits}
    try:
        for hit in hits.values():
            await sequential(hit, 200)  # warm: connections, script cache
        for n in range(args.rounds):
            for name, hit in hits.items():
                results[name]["seq"].append(await sequential(hit, args.hits))
                results[name]["c64"].append(await concurrent(hit, args.hits))
            note(f"round {n + 1}/{args.rounds} done")
    finally:
        await cleanup()
    out = [
        {
            "case": name,
            "sequential_us": round(statistics.median(r["seq"]), 1),
            "concurrent64_us": round(statistics.median(r["c64"]), 1),
        }
        for name, r in results.items()
    ]
    return {"bench": "ratelimit", "hits": args.hits, "rounds": args.rounds, "cases": out}


def print_table(result: dict[str, Any]) -> None:
    print(f"\none rate-limit hit (median of {result['rounds']} rounds of {result['hits']:,})")
    print(f"{'case':<34}{'sequential':>14}{'64 at once':>14}")
    for c in result["cases"]:
        print(f"{c['case']:<34}{c['sequential_us']:>11.1f} us{c['concurrent64_us']:>11.1f} us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 2,000 hits")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    parser.add_argument("--hits", type=int, default=20_000, help="hits per case and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (medians are reported)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="the Redis server to use")
    args = parser.parse_args(argv)
    if args.quick:
        args.hits, args.rounds = 2_000, 1
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
