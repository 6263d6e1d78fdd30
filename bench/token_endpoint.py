"""HTTP token endpoint: roomkey's ``POST /token`` against the seed's Express server, same run.

    .venv/bin/python bench/token_endpoint.py              # 3 rounds of 10 s runs, medians (~6 min)
    .venv/bin/python bench/token_endpoint.py --quick      # 1 round of 3 s runs (~1 min)
    .venv/bin/python bench/token_endpoint.py --json       # one machine-readable line at the end

Both servers run the same number of workers (``--workers``, default 1), bound to 127.0.0.1, and
are loaded by ``wrk`` (one thread) with ``bench/peers/post-json.lua`` at 1 and 64
connections. Rounds interleave the two servers so that drift on a shared machine hits both
alike; figures are medians over the rounds.

- roomkey: ``roomkey serve --port P --data-dir <tmp> --log-level warning`` (SQLite, auth on). The
  admin token comes from the first start's credentials file; every request is authenticated,
  rate limited (the per-caller limit is raised to 10^9 a minute so that the check runs but never
  refuses; so is the per-address limit of verify; with ``ROOMKEY_REDIS_URL`` in the environment
  the limits are counted in that Redis) and audited (the row is committed before the
  response). Body: ``{"room_name":"room-standup-42","participant_identity":"user-7f3a9c2e"}``.
- Express: ``server.cjs --workers N`` from a copy of ``bench/peers/express-token-server`` with
  its ``node_modules`` (``npm install`` there on first use, cached under ``--express-dir``). Body:
  ``{"roomName":"room-standup-42","participantName":"user-7f3a9c2e"}``.
- verify: ``POST /v1/tokens/verify`` with a token minted by ``/token``, at 64 connections, first
  with no revocations, then after 1,000,000 jti revocations were bulk-inserted into the
  ``revocations`` table while the server was stopped (it loads them into memory at start).

A benchmark, never a test: it prints whether the target (≥ 1.5x Express, p99 ≤ 10 ms at
64 connections) is met and exits 0 either way (non-zero only if a server cannot be run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
LUA = PEERS / "post-json.lua"
EXPRESS_SRC = PEERS / "express-token-server"
ROOMKEY = ROOT / ".venv" / "bin" / "roomkey"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
HOST = "127.0.0.1"
ROOMKEY_BODY = '{"room_name":"room-standup-42","participant_identity":"user-7f3a9c2e"}'
EXPRESS_BODY = '{"roomName":"room-standup-42","participantName":"user-7f3a9c2e"}'
EXPRESS_SECRET = "express-bench-secret-at-least-32-bytes-long"
REVOCATIONS = 1_000_000
RATIO_TARGET = 1.5
P99_TARGET_US = 10_000


@dataclass
class Case:
    """One measured configuration; ``runs`` holds each round's WRKJSON result."""

    name: str
    server: str
    path: str
    connections: int
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs) if self.runs else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "path": self.path,
            "connections": self.connections,
            "rps": round(self.median("rps"), 1),
            "p50_ms": round(self.median("p50_us") / 1000, 3),
            "p99_ms": round(self.median("p99_us") / 1000, 3),
            "errors": sum(int(r["errors"]) for r in self.runs),
            "non2xx": sum(int(r["non2xx"]) for r in self.runs),
            "rounds": [round(r["rps"], 1) for r in self.runs],
        }


# ---- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """A child process in its own process group, always terminated on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if len(self.lines) < 500:
                self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._reader.join(timeout=2)


def wait_http(port: int, path: str, proc: Server, timeout_s: float = 120.0) -> None:
    """Wait until ``path`` answers at all (any status)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{proc.output()[-3000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                pass
            urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer from port {port} within {timeout_s} s:\n{proc.output()[-3000:]}")


@contextmanager
def roomkey_server(data_dir: Path, port: int, log_level: str, workers: int) -> Iterator[Server]:
    env = {
        **os.environ,
        "ROOMKEY_RATE_LIMIT_PER_MIN": "1000000000",
        "ROOMKEY_VERIFY_RATE_LIMIT_PER_MIN": "1000000000",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [str(ROOMKEY), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    server = Server([*argv, "--log-level", log_level, "--workers", str(workers)], env)
    try:
        wait_http(port, "/healthz", server)
        yield server
    finally:
        server.stop()


def express_dir(cache: Path) -> Path:
    """A copy of the Express server with its dependencies installed (once)."""
    if (EXPRESS_SRC / "node_modules").is_dir():
        return EXPRESS_SRC
    if not (cache / "node_modules" / "livekit-server-sdk").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        for name in ("server.cjs", "package.json"):
            shutil.copyfile(EXPRESS_SRC / name, cache / name)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=cache,
            check=True,
            timeout=600,
        )
    return cache


@contextmanager
def express_server(directory: Path, port: int, workers: int) -> Iterator[Server]:
    env = {**os.environ, "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": EXPRESS_SECRET}
    argv = ["node", "server.cjs", "--port", str(port), "--workers", str(workers)]
    server = Server(argv, env, directory)
    try:
        wait_http(port, "/", server)
        yield server
    finally:
        server.stop()


# ---- requests ----------------------------------------------------------------------------


def post(port: int, path: str, body: str, auth: str | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wrk(
    port: int, path: str, body: str, auth: str | None, connections: int, seconds: float
) -> dict[str, float]:
    env = {**os.environ, "BODY": body}
    if auth:
        env["AUTH"] = auth
    else:
        env.pop("AUTH", None)
    argv = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    argv += ["-s", str(LUA), f"http://{HOST}:{port}{path}"]
    out = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    match = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no WRKJSON line:\n{out.stdout}\n{out.stderr}")
    result: dict[str, float] = json.loads(match.group(1))
    return result


def admin_token(data_dir: Path) -> str:
    """The admin token a first start without a terminal writes to its credentials file."""
    text = (data_dir / "first-start-credentials").read_text()
    match = re.search(r"^ROOMKEY_TOKEN=(\S+)$", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no ROOMKEY_TOKEN in {data_dir / 'first-start-credentials'}")
    return match.group(1)


def load_revocations(data_dir: Path, count: int) -> float:
    """Bulk-insert ``count`` jti revocations for the project (server stopped); seconds taken."""
    start = time.perf_counter()
    db = sqlite3.connect(data_dir / "roomkey.db")
    try:
        (project_id,) = db.execute("SELECT id FROM projects LIMIT 1").fetchone()
        now = int(time.time())
        rows = (
            (f"rev_bench{i:07d}", project_id, "jti", f"bench-jti-{i:07d}", now, now + 86400 * 30)
            for i in range(count)
        )
        db.executemany(
            "INSERT INTO revocations (id, project_id, kind, jti, created_at, expires_at, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, '')",
            rows,
        )
        db.commit()
    finally:
        db.close()
    return time.perf_counter() - start


# ---- the run -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    seconds = 3.0 if args.quick else args.seconds
    rounds = 1 if args.quick else args.rounds
    revocations = args.revocations
    note = print if not args.json else (lambda *a, **k: print(*a, **k, file=sys.stderr))
    express = (
        Case("express /token", "express", "/token", 1),
        Case("express /token", "express", "/token", 64),
    )
    token = (
        Case("roomkey /token", "roomkey", "/token", 1),
        Case("roomkey /token", "roomkey", "/token", 64),
    )
    verify0 = Case("roomkey verify, 0 revoked", "roomkey", "/v1/tokens/verify", 64)
    verify1m = Case(f"roomkey verify, {revocations:,} revoked", "roomkey", "/v1/tokens/verify", 64)
    ex_dir = express_dir(Path(args.express_dir))
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rk-http-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        rk_port, ex_port = free_port(), free_port()
        with (
            roomkey_server(data_dir, rk_port, args.log_level, args.workers),
            express_server(ex_dir, ex_port, args.workers),
        ):
            auth = f"Bearer {admin_token(data_dir)}"
            status, raw = post(rk_port, "/token", ROOMKEY_BODY, auth)
            if status != 201:
                raise RuntimeError(f"roomkey POST /token: {status} {raw[:300]!r}")
            verify_body = json.dumps({"token": json.loads(raw)["participant_token"]})
            status, raw = post(rk_port, "/v1/tokens/verify", verify_body)
            if status != 200 or not json.loads(raw)["valid"]:
                raise RuntimeError(f"roomkey verify: {status} {raw[:300]!r}")
            status, raw = post(ex_port, "/token", EXPRESS_BODY)
            if status != 200:
                raise RuntimeError(f"express POST /token: {status} {raw[:300]!r}")
            note(f"warming up ({args.warmup:.0f} s each)...")
            wrk(ex_port, "/token", EXPRESS_BODY, None, 64, args.warmup)
            wrk(rk_port, "/token", ROOMKEY_BODY, auth, 64, args.warmup)
            for n in range(rounds):
                for ex_case, rk_case in zip(express, token, strict=True):
                    c = ex_case.connections
                    ex_case.runs.append(wrk(ex_port, "/token", EXPRESS_BODY, None, c, seconds))
                    rk_case.runs.append(wrk(rk_port, "/token", ROOMKEY_BODY, auth, c, seconds))
                verify0.runs.append(
                    wrk(rk_port, "/v1/tokens/verify", verify_body, None, 64, seconds)
                )
                note(
                    f"round {n + 1}/{rounds}: "
                    + ", ".join(
                        f"{c.server} c{c.connections} {c.runs[-1]['rps']:.0f}/s"
                        for c in (*express, *token, verify0)
                    )
                )
        if revocations:
            info["revocation_insert_s"] = round(load_revocations(data_dir, revocations), 1)
            start = time.perf_counter()
            with roomkey_server(data_dir, rk_port, args.log_level, args.workers):
                info["start_with_revocations_s"] = round(time.perf_counter() - start, 1)
                status, raw = post(rk_port, "/token", ROOMKEY_BODY, auth)
                if status != 201:
                    raise RuntimeError(f"roomkey POST /token after restart: {status}")
                verify_body = json.dumps({"token": json.loads(raw)["participant_token"]})
                status, raw = post(rk_port, "/v1/tokens/verify", verify_body)
                if status != 200 or not json.loads(raw)["valid"]:
                    raise RuntimeError(f"roomkey verify after restart: {status} {raw[:300]!r}")
                wrk(rk_port, "/v1/tokens/verify", verify_body, None, 64, args.warmup)
                for _ in range(rounds):
                    verify1m.runs.append(
                        wrk(rk_port, "/v1/tokens/verify", verify_body, None, 64, seconds)
                    )
    cases = [*express, *token, verify0] + ([verify1m] if revocations else [])
    ratio64 = token[1].median("rps") / express[1].median("rps")
    ratio1 = token[0].median("rps") / express[0].median("rps")
    p99 = token[1].median("p99_us")
    return {
        "bench": "http",
        "seconds": seconds,
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "log_level": args.log_level,
        "cases": [c.summary() for c in cases],
        "ratio_c1": round(ratio1, 2),
        "ratio_c64": round(ratio64, 2),
        "verify_1m_over_0": (
            round(verify1m.median("rps") / verify0.median("rps"), 2) if revocations else None
        ),
        "target_met": ratio64 >= RATIO_TARGET and p99 <= P99_TARGET_US,
        **info,
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\nHTTP token endpoint — {result['workers']} worker(s) each, wrk -t1, "
        f"{result['seconds']:g} s runs, "
        f"median of {result['rounds']} round(s), {result['cpus']} CPUs, "
        f"roomkey log level {result['log_level']}"
    )
    print(f"{'case':34} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for c in result["cases"]:
        bad = c["errors"] + c["non2xx"]
        print(
            f"{c['name']:34} {c['connections']:>5} {c['rps']:>10,.0f} {c['p50_ms']:>8.2f} "
            f"{c['p99_ms']:>8.2f} {bad:>7}"
        )
    print(
        f"roomkey / express throughput: {result['ratio_c1']:.2f}x at 1 connection, "
        f"{result['ratio_c64']:.2f}x at 64"
    )
    if result["verify_1m_over_0"] is not None:
        print(
            f"verify with 1,000,000 revocations / with none: {result['verify_1m_over_0']:.2f}x "
            f"(insert {result['revocation_insert_s']} s, server start "
            f"{result['start_with_revocations_s']} s)"
        )
    met = "met" if result["target_met"] else "NOT met"
    print(f"target (>= {RATIO_TARGET}x Express, p99 <= 10 ms at 64 conns): {met}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 3 s runs")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per run (max 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per server")
    parser.add_argument(
        "--revocations", type=int, default=REVOCATIONS, help="jti revocations to load (0: skip)"
    )
    parser.add_argument("--log-level", default="warning", help="roomkey serve --log-level")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes of each server (the same for both)"
    )
    parser.add_argument(
        "--express-dir",
        default=str(Path(tempfile.gettempdir()) / "roomkey-bench-express"),
        help="where to copy and npm-install the Express server (reused across runs)",
    )
    args = parser.parse_args(argv)
    args.seconds = min(args.seconds, 10.0)
    for tool in (WRK, str(ROOMKEY)):
        if not Path(tool).exists():
            print(f"missing {tool}", file=sys.stderr)
            return 2
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
