"""Webhook deliveries per second from a real ``roomkey serve`` to a local receiver process,
against a bare httpx loop posting the same signed requests to the same receiver.

    .venv/bin/python bench/webhooks.py                  # 1 and 8 endpoints, 3 runs, medians
    .venv/bin/python bench/webhooks.py --quick          # 1 endpoint, 1 run, 100 events (smoke)
    .venv/bin/python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1/postgres
    .venv/bin/python bench/webhooks.py --json           # one machine-readable line at the end

Each run starts a fresh server (SQLite in a temp data dir; with ``--database-url``, a fresh
PostgreSQL database created on that server for the run and dropped after it) and the
receiver of the test suite (``tests/webhook_receiver.py``, a ``ThreadingHTTPServer`` that
verifies every delivery with ``standardwebhooks`` and answers 204). E endpoints subscribe to
``revocation.created``, and M revocations are made through the API on a server that does not
deliver (``ROOMKEY_WEBHOOK_DELIVERY=false``): each event fans out to E deliveries, queued in the
outbox. That server stops and one that delivers starts on the same database; the rate is the
drain's, from the receiver's clock: deliveries after the first over the time from the first to
the last (so the start-up is not counted). That covers claim, sign, post and record, one
delivery in flight per endpoint, as the ordering guarantee requires.

The peer is what a bare sender achieves with the same constraint: one ``httpx.AsyncClient``,
E concurrent loops (one per endpoint path), each posting its M bodies one after another, signed
with ``roomkey.webhooks.sign_headers`` at send time, nothing recorded anywhere, measured on the
receiver's clock the same way. The ratio is roomkey's rate over the peer's: what the durable
outbox, the claims and the delivery log cost.

A benchmark, never a test: it prints figures and exits 0 (non-zero only when a process cannot
be run). Read the figures as the shared 2-CPU machine's, server, receiver and client together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from token_endpoint import ROOMKEY, Server, admin_token, free_port, wait_http

from roomkey.webhooks import new_secret, sign_headers

ROOT = Path(__file__).resolve().parents[1]
RECEIVER = ROOT / "tests" / "webhook_receiver.py"
SETTINGS = {
    "ROOMKEY_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "ROOMKEY_WEBHOOK_POLL_S": "0.05",
    "ROOMKEY_RATE_LIMIT_PER_MIN": "1000000000",
    "PYTHONUNBUFFERED": "1",
}


class Receiver:
    """The receiver process and its counters."""

    def __init__(self) -> None:
        self.server = Server([sys.executable, str(RECEIVER)], dict(os.environ))
        deadline = time.monotonic() + 20
        while not self.server.lines and time.monotonic() < deadline:
            time.sleep(0.02)
        self.port = int(self.server.lines[0].split()[1])
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def configure(self, path: str, secret: str) -> str:
        self.http.post(f"/_config{path}", json={"secret": secret}).raise_for_status()
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self) -> int:
        return int(self.http.get("/_count").text)

    def log(self, path: str) -> list[dict[str, Any]]:
        return list(self.http.get(f"/_log{path}").json())

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


def roomkey_rate(args: argparse.Namespace, endpoints: int, receiver: Receiver) -> dict[str, Any]:
    """Deliveries per second of a server draining ``events x endpoints`` queued deliveries."""
    with tempfile.TemporaryDirectory(prefix="rk-bench-hooks-") as tmp, _database(args) as url:
        args = argparse.Namespace(**{**vars(args), "database_url": url})
        with _serve(args, Path(tmp), deliver=False) as port:
            paths = _queue(port, admin_token(Path(tmp)), args.events, endpoints, receiver)
        expected = receiver.count() + args.events * endpoints
        with _serve(args, Path(tmp), deliver=True):
            deadline = time.monotonic() + 600
            while receiver.count() < expected and time.monotonic() < deadline:
                time.sleep(0.05)
        return _measured(receiver, paths)


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[str | None]:
    """A fresh PostgreSQL database on ``--database-url``'s server for one run (then dropped),
    or None for SQLite."""
    if not args.database_url:
        yield None
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(args.database_url)
    name = f"rk_bench_hooks_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    admin = base.set(drivername="postgresql", database="postgres")

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@contextmanager
def _serve(args: argparse.Namespace, data_dir: Path, *, deliver: bool) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, **SETTINGS, "ROOMKEY_WEBHOOK_DELIVERY": str(deliver).lower()}
    argv = [str(ROOMKEY), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if args.database_url:
        argv += ["--database-url", args.database_url]
    server = Server([*argv, "--log-level", "warning"], env)
    try:
        wait_http(port, "/healthz", server)
        yield port
    finally:
        server.stop()


def _queue(port: int, token: str, events: int, endpoints: int, receiver: Receiver) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    paths = [f"/rk-{port}-{n}" for n in range(endpoints)]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
        for path in paths:
            url = f"http://127.0.0.1:{receiver.port}{path}"
            body = {"url": url, "allow_private": True, "event_types": ["revocation.created"]}
            made = http.post("/v1/webhooks", json=body)
            made.raise_for_status()
            receiver.configure(path, made.json()["secret"])
        for n in range(events):
            http.post("/v1/revocations", json={"jti": f"bench-{n}"}).raise_for_status()
    return paths


def _measured(receiver: Receiver, paths: list[str]) -> dict[str, Any]:
    """The rate over the receiver's own timestamps, from the first delivery to the last."""
    entries = [e for p in paths for e in receiver.log(p)]
    stamps = sorted(e["t"] for e in entries)
    elapsed = stamps[-1] - stamps[0]
    unverified = sum(1 for e in entries if not e["verified"])
    rate = (len(stamps) - 1) / elapsed if elapsed > 0 else 0.0
    return {"rate": rate, "seconds": elapsed, "unverified": unverified, "count": len(stamps)}


async def bare_rate(events: int, endpoints: int, receiver: Receiver) -> dict[str, Any]:
    """The peer: E loops, each posting its M signed bodies one after another."""
    secret = new_secret()
    paths = [
        receiver.configure(f"/bare-{time.monotonic_ns()}-{n}", secret) for n in range(endpoints)
    ]
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:

        async def loop(url: str) -> None:
            for n in range(events):
                body = orjson.dumps({"type": "revocation.created", "data": {"jti": f"b-{n}"}})
                headers = sign_headers([secret], f"evt_bench_{n}", int(time.time()), body)
                headers["content-type"] = "application/json"
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()

        await asyncio.gather(*(loop(url) for url in paths))
    return _measured(receiver, [url.split(str(receiver.port), 1)[1] for url in paths])


def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver()
    cases = []
    try:
        for endpoints in args.endpoints:
            ours, peers = [], []
            for n in range(args.runs):
                ours.append(roomkey_rate(args, endpoints, receiver))
                peers.append(asyncio.run(bare_rate(args.events, endpoints, receiver)))
                print(
                    f"E={endpoints} run {n + 1}/{args.runs}: roomkey {ours[-1]['rate']:.0f}/s, "
                    f"bare httpx {peers[-1]['rate']:.0f}/s",
                    file=sys.stderr,
                )
            rate = statistics.median(r["rate"] for r in ours)
            peer = statistics.median(r["rate"] for r in peers)
            cases.append(
                {
                    "endpoints": endpoints,
                    "deliveries": args.events * endpoints,
                    "roomkey_per_s": round(rate, 1),
                    "bare_httpx_per_s": round(peer, 1),
                    "ratio": round(rate / peer, 3),
                    "unverified": sum(r["unverified"] for r in ours),
                    "runs": args.runs,
                }
            )
    finally:
        receiver.stop()
    backend = "postgresql" if args.database_url else "sqlite"
    return {"backend": backend, "events": args.events, "cases": cases}


def print_table(result: dict[str, Any]) -> None:
    print(
        f"webhook deliveries per second ({result['backend']}, {result['events']} events, medians)"
    )
    print(f"{'endpoints':>9} {'deliveries':>10} {'roomkey/s':>10} {'bare/s':>8} {'ratio':>6}")
    for c in result["cases"]:
        print(
            f"{c['endpoints']:>9} {c['deliveries']:>10} {c['roomkey_per_s']:>10.0f} "
            f"{c['bare_httpx_per_s']:>8.0f} {c['ratio']:>6.2f}"
        )
    if any(c["unverified"] for c in result["cases"]):
        print("WARNING: the receiver failed to verify some deliveries")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--quick", action="store_true", help="1 endpoint, 1 run, 100 events")
    parser.add_argument("--json", action="store_true", help="a JSON line at the end")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.endpoints, args.runs = min(args.events, 100), [1], 1
    result = run(args)
    print_table(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
