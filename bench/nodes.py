"""roomkey on several nodes: revocation propagation, token throughput and webhook deliveries
with 1, 2 and 3 real ``roomkey serve`` processes on one PostgreSQL database and one Redis.

    .venv/bin/python bench/nodes.py                 # 3 runs of each case, medians (~6 min)
    .venv/bin/python bench/nodes.py --quick         # 1 run, small counts (smoke, ~1 min)
    .venv/bin/python bench/nodes.py --json          # one machine-readable line at the end

Every run of every node count starts fresh nodes on a fresh PostgreSQL database (created on
``--database-url``'s server and dropped after) with a Redis namespace of its own; node 0
starts first and creates the project.

- **Propagation.** A token for a fresh identity is minted and seen valid on every node; the
  identity is revoked on node 0; one thread per other node polls ``POST /v1/tokens/verify`` over
  a kept-alive connection until it answers ``revoked``. Propagation is from the revocation's 201
  reaching the client to the first ``revoked`` on that node (0 when it arrived first), so
  it includes up to one verify round trip (about 1 ms) of polling resolution. The peer is the
  same measurement with Redis off: nodes then read the database every ``refresh_interval_s``
  (1 s, the default), which is how nodes learned of changes before the change feed had Redis,
  and what they fall back to while Redis is down. With one node there is nothing to propagate:
  a revocation is enforced by the node that made it before it answers.
- **Throughput.** ``wrk`` (one thread, 64 connections, ``bench/peers/post-json.lua``) on the
  LiveKit-style ``POST /token`` of every node at once, authenticated, rate limited (limit
  raised so that it never refuses) and audited on PostgreSQL. The ratio is N nodes' total over
  one node's. All nodes, wrk and PostgreSQL share the machine's CPUs, so read it as scaling on
  one machine, not as capacity.
- **Webhooks.** E endpoints (default 8) subscribe to ``revocation.created``; M revocations are
  made through node 0 while every node delivers; the rate is the receiver's (first delivery to
  last, as in bench/webhooks.py). Deliveries of one endpoint go one at a time, in order, from
  whichever node claimed them.

- **Start-up with 1,000,000 revocations** (``--startup-revocations``, 0 to skip): bench/startup.py
  on PostgreSQL: ``roomkey serve`` from process start to ``/readyz`` 200 and to the first verify
  that refuses the revoked token, and the revocation loader before and after its rewrite.

A benchmark, never a test: it prints figures and exits 0 (non-zero only when a process cannot be
run). The figures in bench/README.md say what else was running.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import startup
from token_endpoint import ROOMKEY, ROOMKEY_BODY, Server, admin_token, free_port, wait_http, wrk
from webhooks import Receiver

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
HOST = "127.0.0.1"


# ---- a cluster ------------------------------------------------------------------------------


@contextmanager
def cluster(
    size: int, database_url: str, redis_url: str | None, extra: dict[str, str] | None = None
) -> Iterator[tuple[list[int], str]]:
    """``size`` nodes on one database; yields their ports (node 0 bootstrapped first) and the
    admin token node 0's first start wrote."""
    root = Path(tempfile.mkdtemp(prefix="rk-nodes-"))
    env = {
        **os.environ,
        "ROOMKEY_DATABASE_URL": database_url,
        "ROOMKEY_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
        "ROOMKEY_REDIS_NAMESPACE": f"rkb_{secrets.token_hex(4)}",
        "ROOMKEY_RATE_LIMIT_PER_MIN": "1000000000",
        "ROOMKEY_LOG_LEVEL": "warning",
        "ROOMKEY_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "ROOMKEY_WEBHOOK_POLL_S": "0.05",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }
    env.pop("ROOMKEY_REDIS_URL", None)
    if redis_url is not None:
        env["ROOMKEY_REDIS_URL"] = redis_url
    ports: list[int] = []
    with ExitStack() as stack:
        for i in range(size):
            port = free_port()
            data = root / f"node{i}"
            argv = [str(ROOMKEY), "serve", "--port", str(port), "--data-dir", str(data)]
            server = Server(argv, env)
            stack.callback(server.stop)
            wait_http(port, "/readyz", server)
            ports.append(port)
        yield ports, admin_token(root / "node0")


class Node:
    """A kept-alive HTTP connection to one node."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=10)
        self.auth = f"Bearer {token}"

    def post(self, path: str, body: dict[str, Any], auth: bool = True) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = self.auth
        self.conn.request("POST", path, json.dumps(body), headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def verify_code(self, token: str) -> str | None:
        status, body = self.post("/v1/tokens/verify", {"token": token}, auth=False)
        if status != 200:
            raise RuntimeError(f"verify answered {status}: {body}")
        return None if body["valid"] else str(body["code"])

    def close(self) -> None:
        self.conn.close()


# ---- propagation ----------------------------------------------------------------------------


def propagation(ports: list[int], token: str, revocations: int) -> list[float]:
    """Milliseconds from each revocation's 201 to ``revoked`` on each other node."""
    nodes = [Node(p, token) for p in ports]
    samples: list[float] = []
    try:
        for k in range(revocations):
            identity = f"prop-{secrets.token_hex(4)}-{k}"
            status, body = nodes[0].post("/v1/tokens", {"identity": identity, "room": "r"})
            assert status == 201, body
            minted = str(body["token"])
            for node in nodes:
                _until_code(node, minted, None)
            samples += _one_revocation(nodes, identity, minted)
    finally:
        for node in nodes:
            node.close()
    return samples


def _one_revocation(nodes: list[Node], identity: str, minted: str) -> list[float]:
    seen: dict[int, float] = {}
    go = threading.Event()

    def watch(i: int) -> None:
        go.wait()
        _until_code(nodes[i], minted, "revoked")
        seen[i] = time.perf_counter()

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(1, len(nodes))]
    for thread in threads:
        thread.start()
    go.set()
    status, body = nodes[0].post("/v1/revocations", {"identity": identity})
    acked = time.perf_counter()
    assert status == 201, body
    for thread in threads:
        thread.join(timeout=30)
    return [max(0.0, (seen[i] - acked) * 1000) for i in range(1, len(nodes))]


def _until_code(node: Node, token: str, code: str | None, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while node.verify_code(token) != code:
        if time.monotonic() > deadline:
            raise RuntimeError(f"node {node.port} never answered {code!r}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


# ---- throughput and webhooks ------------------------------------------------------------------


def throughput(ports: list[int], token: str, seconds: float) -> dict[str, float]:
    """wrk on every node's POST /token at once: total requests/s and the worst node's p99
    (nothing measured with ``seconds`` 0)."""
    if seconds <= 0:
        return {"audit_rows_per_commit": 0.0, "req_per_s": 0.0, "p99_ms": 0.0, "errors": 0}
    results: dict[int, dict[str, float]] = {}

    def load(port: int) -> None:
        results[port] = wrk(port, "/token", ROOMKEY_BODY, f"Bearer {token}", 64, seconds)

    before = [audit_totals(p) for p in ports]
    threads = [threading.Thread(target=load, args=(p,)) for p in ports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = [audit_totals(p) for p in ports]
    commits = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    rows = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    return {
        "audit_rows_per_commit": round(rows / commits, 1) if commits else 0.0,
        "req_per_s": sum(r["rps"] for r in results.values()),
        "p99_ms": max(r["p99_us"] for r in results.values()) / 1000,
        "errors": sum(r["non2xx"] + r["errors"] for r in results.values()),
    }


def audit_totals(port: int) -> tuple[float, float]:
    """(audit commits, audit rows) so far on the node, from its /metrics."""
    text = urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10).read().decode()
    values = dict(re.findall(r"^(roomkey_audit_\w+_total) (\S+)$", text, re.M))
    return float(values["roomkey_audit_commits_total"]), float(values["roomkey_audit_rows_total"])


def webhook_rate(ports: list[int], token: str, events: int, endpoints: int) -> dict[str, Any]:
    """Deliveries per second to E endpoints, every node delivering."""
    receiver = Receiver()
    node = Node(ports[0], token)
    try:
        paths = [f"/nodes-{secrets.token_hex(3)}-{e}" for e in range(endpoints)]
        for path in paths:
            body = {
                "url": f"http://{HOST}:{receiver.port}{path}",
                "allow_private": True,
                "event_types": ["revocation.created"],
            }
            status, hook = node.post("/v1/webhooks", body)
            assert status == 201, hook
            receiver.configure(path, hook["secret"])
        for k in range(events):
            status, body = node.post("/v1/revocations", {"identity": f"hook-{k}"})
            assert status == 201, body
        want = events * endpoints
        deadline = time.monotonic() + 300
        while receiver.count() < want and time.monotonic() < deadline:
            time.sleep(0.05)
        stamps = sorted(e["t"] for p in paths for e in receiver.log(p))
        unverified = sum(1 for p in paths for e in receiver.log(p) if not e["verified"])
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        rate = (len(stamps) - 1) / span if span > 0 else 0.0
        return {"deliveries": len(stamps), "unverified": unverified, "per_s": rate}
    finally:
        node.close()
        receiver.stop()


# ---- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every case for every node count, ``args.runs`` times; medians."""
    out: dict[str, Any] = {"runs": args.runs, "cases": []}
    for size in args.nodes:
        case: dict[str, Any] = {"nodes": size}
        prop, poll, rates, p99s, hooks, batches = [], [], [], [], [], []
        for n in range(args.runs):
            with (
                startup.postgres_database(args.database_url) as url,
                cluster(size, url, args.redis_url) as (
                    ports,
                    token,
                ),
            ):
                if size > 1:
                    prop += propagation(ports, token, args.revocations)
                result = throughput(ports, token, args.seconds)
                rates.append(result["req_per_s"])
                p99s.append(result["p99_ms"])
                batches.append(result["audit_rows_per_commit"])
                hooks.append(webhook_rate(ports, token, args.events, args.endpoints)["per_s"])
            if size > 1:
                with (
                    startup.postgres_database(args.database_url) as url,
                    cluster(size, url, None) as (ports, token),
                ):
                    poll += propagation(ports, token, max(3, args.revocations // 5))
            print(
                f"{size} node(s), run {n + 1}/{args.runs}: {rates[-1]:.0f} tokens/s",
                file=sys.stderr,
            )
        case["token_req_per_s"] = round(statistics.median(rates), 1)
        case["token_p99_ms"] = round(statistics.median(p99s), 2)
        case["webhooks_per_s"] = round(statistics.median(hooks), 1)
        case["audit_rows_per_commit"] = round(statistics.median(batches), 1)
        if prop:
            case["propagation_ms"] = {
                "p50": round(percentile(prop, 0.5), 2),
                "p99": round(percentile(prop, 0.99), 2),
                "samples": len(prop),
            }
            case["polling_ms"] = {
                "p50": round(percentile(poll, 0.5), 1),
                "p99": round(percentile(poll, 0.99), 1),
                "samples": len(poll),
            }
        out["cases"].append(case)
    if args.startup_revocations:
        options = argparse.Namespace(
            revocations=args.startup_revocations,
            runs=args.runs,
            database_url=args.database_url,
            backends=["postgresql"],
            json=True,
        )
        out["startup"] = startup.run(options)["cases"][0]
    one = out["cases"][0]["token_req_per_s"] if out["cases"] else 0
    for case in out["cases"]:
        case["throughput_ratio"] = round(case["token_req_per_s"] / one, 2) if one else None
    return out


def print_table(result: dict[str, Any]) -> None:
    print(f"roomkey on several nodes (PostgreSQL + Redis), medians of {result['runs']} run(s)")
    print(
        f"{'nodes':>5} {'revocation p50/p99 ms':>22} {'polling p50/p99 ms':>19} "
        f"{'tokens/s':>9} {'x1 node':>7} {'p99 ms':>7} {'rows/commit':>11} {'hooks/s':>8}"
    )
    for c in result["cases"]:
        prop = c.get("propagation_ms")
        poll = c.get("polling_ms")
        shown = f"{prop['p50']:.1f} / {prop['p99']:.1f}" if prop else "0 (same node)"
        peer = f"{poll['p50']:.0f} / {poll['p99']:.0f}" if poll else "-"
        print(
            f"{c['nodes']:>5} {shown:>22} {peer:>19} {c['token_req_per_s']:>9.0f} "
            f"{c['throughput_ratio'] or 0:>7.2f} {c['token_p99_ms']:>7.1f} "
            f"{c['audit_rows_per_commit']:>11.1f} {c['webhooks_per_s']:>8.0f}"
        )
    for c in result["cases"]:
        if "propagation_ms" in c and c["propagation_ms"]["p50"] > 0:
            ratio = c["polling_ms"]["p50"] / c["propagation_ms"]["p50"]
            print(
                f"{c['nodes']} nodes: the feed through Redis is {ratio:.0f}x faster (p50) "
                "than polling the database once a second"
            )
    worst = max(
        (c["propagation_ms"]["p99"] for c in result["cases"] if "propagation_ms" in c), default=0.0
    )
    if "startup" in result:
        up = result["startup"]
        print(
            f"start-up with {up['revocations']:,} revocations (PostgreSQL): /readyz 200 after "
            f"{up['ready_s']:.2f} s, the revoked token refused after {up['revoked_s']:.2f} s "
            f"(loader {up['loader_before_s']:.2f} s before, {up['loader_after_s']:.2f} s after); "
            f"target 3 s {'met' if up['target_met'] else 'NOT met'}"
        )
    print(
        f"target: a revocation enforced on every node within 1 s: p99 {worst:.1f} ms "
        f"({'met' if worst < 1000 else 'NOT met'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--revocations", type=int, default=50, help="per run and node count")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="wrk duration (0: no throughput case)"
    )
    parser.add_argument("--events", type=int, default=200, help="webhook events")
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("ROOMKEY_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--redis-url", default=os.environ.get("ROOMKEY_BENCH_REDIS", DEFAULT_REDIS))
    parser.add_argument(
        "--startup-revocations", type=int, default=1_000_000, help="0 skips the start-up case"
    )
    parser.add_argument("--quick", action="store_true", help="1 run, small counts")
    parser.add_argument("--json", action="store_true", help="one JSON line at the end")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.revocations, args.seconds, args.events = 1, 5, 2.0, 20
        args.startup_revocations = min(args.startup_revocations, 20_000)
    result = run(args)
    print_table(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
