"""Mixed load on SQLite: minting, verification, revocations and room creation at once.

    .venv/bin/python bench/mixed_load.py                  # 3 runs, 20 s phases, medians (~2.5 min)
    .venv/bin/python bench/mixed_load.py --duration 180   # 3-minute phases
    .venv/bin/python bench/mixed_load.py --quick          # 1 run, 5 s phases (smoke)
    .venv/bin/python bench/mixed_load.py --json           # one machine-readable line at the end

Each run starts a fresh ``roomkey serve --workers 1`` (SQLite, temp data dir, auth on, the rate
limit raised to 10^9 a minute so that it is checked but never refuses) pinned to CPU 0 with
``taskset``; the clients run in this process, pinned to CPU 1. ``--clients`` (default 32)
connections, each a closed loop (send, wait for the whole answer, send the next) over its own
keep-alive HTTP/1.1 connection, written directly on asyncio so that the client costs little
beside the server. The admin token comes from the first start's credentials file.

Phases of a run, each ``--duration`` seconds after a short warm-up:

1. **mint alone** (the peer): every client sends ``POST /token`` (LiveKit-style, room
   ``room-standup-42``); every answer waited for its audit row to be committed.
2. **mix**: each client picks each request at random with the ``--mix`` weights (default
   ``mint=4,verify=4,revoke=1,room=1``): ``POST /token``; ``POST /v1/tokens/verify`` of a
   token minted before the phase; ``POST /v1/revocations`` of a new jti (persisted and in force
   before the answer); ``POST /v1/rooms`` with a new ``customRoomId``.

Latency is the client's, from the request's first byte written to its answer's last byte read.
Per operation: requests per second, p50, p99, max and answers with an unexpected status; per
phase, the server's CPU use (share of its core, and CPU time per request: on a shared machine the
server may get less than its core, which the latencies then show).
Figures are medians over the runs (max: the largest of the runs too). It prints the mix's
p99 of each operation over minting's p99 alone, and the load average before and after, since a
shared machine moves these figures.

A benchmark, never a test: it prints and exits 0 (non-zero only if the server cannot be run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from token_endpoint import (
    HOST,
    ROOMKEY,
    ROOMKEY_BODY,
    Server,
    admin_token,
    free_port,
    post,
    wait_http,
)

SERVER_CPU, CLIENT_CPU = 0, 1
OPS = ("mint", "verify", "revoke", "room")
EXPECTED = {"mint": 201, "verify": 200, "revoke": 201, "room": 201}
WARMUP_S = 2.0
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of sorted ``values``; nan when empty."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values)) - 1))]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the client --------------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None or self.waiter.done():
            return
        match = _LENGTH.search(self.buffer, 0, end + 2)
        if match is None:
            self.waiter.set_exception(RuntimeError(f"no content-length: {self.buffer[:300]!r}"))
            return
        total = end + 4 + int(match.group(1))
        if len(self.buffer) >= total:
            status = int(self.buffer[9:12])
            del self.buffer[:total]
            self.waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    async def send(self, raw: bytes) -> int:
        """Write one request and wait for its whole answer; its status."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def request(port: int, path: str, body: str, auth: str | None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
    if auth:
        head += f"Authorization: {auth}\r\n"
    data = body.encode()
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(data) + data


@dataclass
class Requests:
    """Builds each operation's request (revocations and rooms name something new each time)."""

    port: int
    auth: str
    verify_body: str
    tag: str
    serial: int = 0

    def build(self, op: str) -> bytes:
        self.serial += 1
        name = f"mix-{self.tag}-{self.serial}"
        if op == "mint":
            return request(self.port, "/token", ROOMKEY_BODY, self.auth)
        if op == "verify":
            return request(self.port, "/v1/tokens/verify", self.verify_body, None)
        if op == "revoke":
            body = json.dumps({"jti": name, "reason": "bench"})
            return request(self.port, "/v1/revocations", body, self.auth)
        return request(self.port, "/v1/rooms", json.dumps({"customRoomId": name}), self.auth)


@dataclass
class Tally:
    """What one phase measured: latencies (ms) and unexpected answers per operation."""

    seconds: float = 0.0
    ms: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        every = sorted(v for op in OPS for v in self.ms[op])
        for op in (*OPS, "all"):
            values = every if op == "all" else sorted(self.ms[op])
            if not values:
                continue
            out[op] = {
                "rps": len(values) / self.seconds,
                "p50_ms": pct(values, 50),
                "p99_ms": pct(values, 99),
                "max_ms": values[-1],
                "bad": sum(self.bad.values()) if op == "all" else self.bad[op],
            }
        return out


async def client(
    conn: Connection,
    builder: Requests,
    weights: dict[str, int],
    seed: int,
    until: float,
    tally: Tally,
) -> None:
    rng = random.Random(seed)
    ops, shares = list(weights), list(weights.values())
    clock = time.perf_counter
    while clock() < until:
        op = rng.choices(ops, shares)[0]
        raw = builder.build(op)
        start = clock()
        status = await conn.send(raw)
        tally.ms[op].append((clock() - start) * 1000)
        if status != EXPECTED[op]:
            tally.bad[op] += 1


async def phase(
    conns: list[tuple[Connection, Requests]],
    weights: dict[str, int],
    seconds: float,
    pid: int,
    seed: int,
) -> Tally:
    tally = Tally()
    cpu0, mine0, start = cpu_s(pid), time.process_time(), time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(client(c, b, weights, seed + i, until, tally) for i, (c, b) in enumerate(conns))
    )
    tally.seconds = time.perf_counter() - start
    tally.server_cpu = (cpu_s(pid) - cpu0) / tally.seconds
    tally.client_cpu = (time.process_time() - mine0) / tally.seconds
    return tally


async def drive(
    port: int, auth: str, verify_body: str, args: argparse.Namespace, pid: int, seed: int
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    conns: list[tuple[Connection, Requests]] = []
    for i in range(args.clients):
        _, conn = await loop.create_connection(Connection, HOST, port)
        conns.append((conn, Requests(port, auth, verify_body, f"{seed}-{i}")))
    mint_only = {"mint": 1}
    await phase(conns, args.weights, WARMUP_S, pid, seed)
    alone = await phase(conns, mint_only, args.duration, pid, seed + 1000)
    mixed = await phase(conns, args.weights, args.duration, pid, seed + 2000)
    for conn, _ in conns:
        assert conn.transport is not None
        conn.transport.close()
    return {"alone": alone, "mix": mixed}


# ---- a run -------------------------------------------------------------------------------


@contextmanager
def pinned_server(data_dir: Path, port: int) -> Iterator[Server]:
    env = {
        **os.environ,
        "ROOMKEY_RATE_LIMIT_PER_MIN": "1000000000",
        "ROOMKEY_VERIFY_RATE_LIMIT_PER_MIN": "1000000000",
        "PYTHONUNBUFFERED": "1",
    }
    argv = ["taskset", "-c", str(SERVER_CPU), str(ROOMKEY), "serve", "--port", str(port)]
    argv += ["--data-dir", str(data_dir), "--log-level", "warning", "--workers", "1"]
    server = Server(argv, env)
    try:
        wait_http(port, "/healthz", server)
        yield server
    finally:
        server.stop()


def one_run(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rk-mixed-bench-") as tmp:
        data_dir, port = Path(tmp) / "data", free_port()
        with pinned_server(data_dir, port) as server:
            auth = f"Bearer {admin_token(data_dir)}"
            status, raw = post(port, "/token", ROOMKEY_BODY, auth)
            if status != 201:
                raise RuntimeError(f"roomkey POST /token: {status} {raw[:300]!r}")
            verify_body = json.dumps({"token": json.loads(raw)["participant_token"]})
            tallies = asyncio.run(drive(port, auth, verify_body, args, server.proc.pid, seed))
    return {
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        **{
            name: {
                "ops": t.summary(),
                "server_cpu": round(t.server_cpu, 2),
                "client_cpu": round(t.client_cpu, 2),
            }
            for name, t in tallies.items()
        },
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("alone", "mix"):
        ops: dict[str, dict[str, float]] = {}
        for op in runs[0][name]["ops"]:
            figures = [r[name]["ops"][op] for r in runs if op in r[name]["ops"]]
            ops[op] = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
            ops[op]["max_of_runs_ms"] = max(f["max_ms"] for f in figures)
            ops[op]["bad"] = sum(f["bad"] for f in figures)
        out[name] = {
            "ops": ops,
            "server_cpu": statistics.median(r[name]["server_cpu"] for r in runs),
            "client_cpu": statistics.median(r[name]["client_cpu"] for r in runs),
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\nMixed load — {result['clients']} clients, roomkey serve --workers 1 (SQLite) on CPU "
        f"{SERVER_CPU}, clients on CPU {CLIENT_CPU}, {result['duration']:g} s phases, median of "
        f"{len(result['runs'])} run(s); mix {result['mix']}"
    )
    header = f"{'phase':11} {'op':7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    print(f"{header} {'max ms (all runs)':>17} {'bad':>5}")
    for name in ("alone", "mix"):
        for op, f in result["median"][name]["ops"].items():
            label = "mint alone" if name == "alone" else "mix"
            print(
                f"{label:11} {op:7} {f['rps']:>8,.0f} {f['p50_ms']:>7.2f} {f['p99_ms']:>7.2f} "
                f"{f['max_ms']:>7.1f} {f['max_of_runs_ms']:>17.1f} {int(f['bad']):>5}"
            )
    base = result["median"]["alone"]["ops"]["mint"]["p99_ms"]
    ratios = ", ".join(
        f"{op} {f['p99_ms'] / base:.1f}x"
        for op, f in result["median"]["mix"]["ops"].items()
        if op != "all"
    )
    print(f"p99 in the mix / minting's p99 alone ({base:.2f} ms): {ratios}")
    for name in ("alone", "mix"):
        m = result["median"][name]
        per_request = m["server_cpu"] / m["ops"]["all"]["rps"] * 1e6
        print(
            f"{name}: server CPU {m['server_cpu']:.0%} of a core ({per_request:,.0f} µs a "
            f"request), client CPU {m['client_cpu']:.0%}"
        )
    for i, run in enumerate(result["runs"], 1):
        print(f"run {i}: load average {run['load_before']} before, {run['load_after']} after")


def parse_mix(text: str) -> dict[str, int]:
    weights: dict[str, int] = {}
    for part in text.split(","):
        op, _, weight = part.partition("=")
        if op not in OPS or not weight.isdigit():
            raise argparse.ArgumentTypeError(f"--mix wants op=weight with op in {OPS}: {part!r}")
        weights[op] = int(weight)
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--runs", type=int, default=3, help="runs (medians are reported)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument(
        "--mix", default="mint=4,verify=4,revoke=1,room=1", help="op=weight, comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="one run of 5 s phases")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = parser.parse_args(argv)
    args.weights = parse_mix(args.mix)
    if args.quick:
        args.runs, args.duration = 1, 5.0
    if not ROOMKEY.exists():
        print(f"missing {ROOMKEY}", file=sys.stderr)
        return 2
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # the default loop is slower, so the client then costs more
        pass
    os.sched_setaffinity(0, {CLIENT_CPU})
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args, seed=i * 7919))
        mix = runs[-1]["mix"]["ops"]
        print(
            f"run {i + 1}/{args.runs}: mix p99 "
            + ", ".join(f"{op} {f['p99_ms']:.1f} ms" for op, f in mix.items()),
            file=sys.stderr,
        )
    result = {
        "bench": "mixed_load",
        "clients": args.clients,
        "duration": args.duration,
        "mix": args.mix,
        "runs": runs,
        "median": medians(runs),
    }
    print_table(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
