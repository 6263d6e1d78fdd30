"""Start-up with many revocations: ``roomkey serve`` from process start to serving.

    .venv/bin/python bench/startup.py                     # 1,000,000 revocations, 5 runs each
    .venv/bin/python bench/startup.py --quick             # 20,000 revocations, 1 run each
    .venv/bin/python bench/startup.py --json              # one machine-readable line at the end
    .venv/bin/python bench/startup.py --database-url postgresql://postgres@127.0.0.1/test

Each backend is seeded once: a first ``roomkey serve`` creates the project and issues one token
(``POST /v1/tokens``), then, with the server stopped, ``--revocations`` jti revocations are
bulk-inserted (PostgreSQL: ``COPY``, then ``VACUUM ANALYZE`` and ``CHECKPOINT``, as a table
that grew over months would be; SQLite: one ``executemany``, then a WAL checkpoint), one of
them the token's jti (1 in 100 is an identity rule instead, so the loader meets more than one
kind). Each run then
starts ``roomkey serve`` (one worker) and times, from ``Popen``, the first 200 from ``/readyz``
and the first ``POST /v1/tokens/verify`` that answers ``revoked`` for that token. A node that
answered ``valid`` for it, at any time, fails the run: that would be a revoked token accepted.
Then, in this process, the revocation loader alone is timed on the same database, before (the
loader of main before the bulk loader, still in the code as ``list_active_revocations``) and
after, interleaved, ``--runs`` times each: the before/after comparison under the same load.

With ``--baseline-src DIR`` (the ``src`` directory of another checkout, say main's), every
start of this code is followed by a start of that code on ``PYTHONPATH``, on a database of its
own seeded the same way (its schema may be older), and the medians of both and their ratio are
printed: the comparison under the same machine load.

roomkey's bytecode is compiled first (``compileall``), as a package installed by pip is: where
``PYTHONDONTWRITEBYTECODE`` is set, every start would otherwise compile every source again.

PostgreSQL runs in a fresh database (``rk_bench_start_*``) on ``--database-url``'s server,
dropped at the end; SQLite in a temporary directory. A benchmark, never a test: it prints the
medians and exits 0 (non-zero only when a server cannot be run or a revoked token passed).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from token_endpoint import HOST, ROOMKEY, Server, admin_token, free_port, wait_http

REVOCATIONS = 1_000_000
TARGET_S = 3.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# a day: every run of a long benchmark verifies the same token, which must not expire meanwhile
_TOKEN_BODY = '{"identity":"bench","room":"r","ttl_s":86400}'
_COLUMNS = ("id", "project_id", "kind", "jti", "identity", "created_at", "expires_at", "reason")


def _rows(project_id: str, jti: str, count: int) -> Iterator[tuple[Any, ...]]:
    now = int(time.time())
    for i in range(count - 1):
        if i % 100 == 99:
            yield (f"rev_b{i:08d}", project_id, "identity", None, f"u{i}", now, now + 2_592_000, "")
        else:
            yield (f"rev_b{i:08d}", project_id, "jti", f"b-{i:08d}", None, now, now + 2_592_000, "")
    yield ("rev_bench_the_one", project_id, "jti", jti, None, now, now + 2_592_000, "bench")


def _request(port: int, path: str, body: str | None, auth: str | None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    data = body.encode() if body is not None else None
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _argv(data_dir: Path, port: int, database_url: str | None) -> list[str]:
    argv = [str(ROOMKEY), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    argv += ["--log-level", "warning"]
    return argv + (["--database-url", database_url] if database_url else [])


def _env(src: Path | None) -> dict[str, str]:
    """The server's environment: this code, or the checkout whose ``src`` is ``src``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def compile_sources(src: Path | None = None) -> None:
    """Compile roomkey's bytecode (of this code, or of ``src``), as pip does at install."""
    if src is None:
        import roomkey

        src = Path(roomkey.__file__).parent.parent
    compileall.compile_dir(str(src / "roomkey"), quiet=1)


def issue_one(
    data_dir: Path, database_url: str | None, src: Path | None = None
) -> tuple[str, str, str]:
    """First start: (project id, a token, its jti)."""
    port = free_port()
    server = Server(_argv(data_dir, port, database_url), _env(src))
    try:
        wait_http(port, "/readyz", server)
        auth = f"Bearer {admin_token(data_dir)}"
        status, raw = _request(port, "/v1/tokens", _TOKEN_BODY, auth)
        if status != 201:
            raise RuntimeError(f"POST /v1/tokens: {status} {raw[:300]!r}")
        token = json.loads(raw)["token"]
        status, raw = _request(port, "/v1/tokens/verify", json.dumps({"token": token}), None)
        answer = json.loads(raw)
        return answer["project"], token, answer["claims"]["jti"]
    finally:
        server.stop()


def seed_sqlite(data_dir: Path, project_id: str, jti: str, count: int) -> float:
    """Insert ``count`` revocations into the SQLite file; seconds taken."""
    start = time.perf_counter()
    db = sqlite3.connect(data_dir / "roomkey.db")
    try:
        marks = ", ".join("?" * len(_COLUMNS))
        db.executemany(
            f"INSERT INTO revocations ({', '.join(_COLUMNS)}) VALUES ({marks})",
            _rows(project_id, jti, count),
        )
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows in the file, not the WAL
    finally:
        db.close()
    return time.perf_counter() - start


def seed_postgres(url: str, project_id: str, jti: str, count: int) -> float:
    """COPY ``count`` revocations into the PostgreSQL database at ``url``; seconds taken."""
    import asyncpg

    async def copy() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.copy_records_to_table(
                "revocations", records=_rows(project_id, jti, count), columns=_COLUMNS
            )
            # as a table that grew over months would be: vacuumed, analysed, checkpointed
            # (otherwise the starts measured race autovacuum over the fresh rows)
            await conn.execute("VACUUM ANALYZE revocations")
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    start = time.perf_counter()
    asyncio.run(copy())
    return time.perf_counter() - start


async def _time_loaders(database_url: str, runs: int) -> dict[str, list[float]]:
    """Seconds to load every active revocation into memory, in this process: ``before`` with
    the loader of main before the bulk loader (records, one rule object each, ``add`` one at a
    time), ``after`` with ``Store.load_active_revocations`` and ``load_revocations``;
    interleaved, so that both meet the same machine."""
    import gc

    from roomkey.service.state import ProjectState, load_revocations, to_rule
    from roomkey.store import open_store

    store = await open_store(database_url)
    times: dict[str, list[float]] = {"before": [], "after": []}
    try:
        records = await store.list_projects()
        now = int(time.time())
        for _ in range(runs):
            for name in ("before", "after"):
                fresh = {record.id: ProjectState(record) for record in records}
                start = time.perf_counter()
                if name == "before":
                    for rev in await store.list_active_revocations(now):
                        if rev.project_id in fresh:
                            fresh[rev.project_id].revocations.add(to_rule(rev))
                else:
                    load_revocations(fresh, await store.load_active_revocations(now))
                times[name].append(time.perf_counter() - start)
                del fresh
                gc.collect()
    finally:
        await store.close()
    return times


def time_start(
    data_dir: Path,
    database_url: str | None,
    token: str,
    deadline_s: float = 300.0,
    src: Path | None = None,
) -> dict[str, float]:
    """Start a node; seconds from Popen to /readyz 200 and to a verify answering revoked."""
    port = free_port()
    env = _env(src)
    start = time.perf_counter()
    server = Server(_argv(data_dir, port, database_url), env)
    body = json.dumps({"token": token})
    result: dict[str, float] = {}
    try:
        while "revoked_s" not in result:
            if time.perf_counter() - start > deadline_s or server.proc.poll() is not None:
                raise RuntimeError(f"no start within {deadline_s} s:\n{server.output()[-3000:]}")
            try:
                if "ready_s" not in result:
                    if _request(port, "/readyz", None, None)[0] == 200:
                        result["ready_s"] = time.perf_counter() - start
                    continue
                _, raw = _request(port, "/v1/tokens/verify", body, None)
                answer = json.loads(raw)
                if answer.get("valid"):
                    raise SystemExit("FAIL: the node accepted a revoked token")
                if answer.get("code") != "revoked":
                    raise RuntimeError(f"verify answered {answer.get('code')!r}, not 'revoked'")
                result["revoked_s"] = time.perf_counter() - start
            except OSError:
                time.sleep(0.005)  # not listening yet
    finally:
        server.stop()
    return result


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A fresh database on ``base_url``'s server (dropped afterwards)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"rk_bench_start_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@dataclass
class Seeded:
    """A seeded database and the revoked token to verify against it."""

    data_dir: Path
    url: str | None
    token: str
    seed_s: float


def seed(
    backend: str, data_dir: Path, url: str | None, count: int, src: Path | None = None
) -> Seeded:
    """A first start (of this code or of ``src``), then ``count`` revocations inserted."""
    project_id, token, jti = issue_one(data_dir, url, src)
    if url is None:
        seeded = seed_sqlite(data_dir, project_id, jti, count)
    else:
        seeded = seed_postgres(url, project_id, jti, count)
    return Seeded(data_dir, url, token, seeded)


def run_backend(
    backend: str, args: argparse.Namespace, root: Path, url: str | None, baseline_url: str | None
) -> dict[str, Any]:
    note = print if not args.json else (lambda *a, **k: print(*a, **k, file=sys.stderr))
    baseline_src: Path | None = getattr(args, "baseline_src", None)
    this = seed(backend, root / backend, url, args.revocations)
    note(f"{backend}: {args.revocations:,} revocations inserted in {this.seed_s:.1f} s")
    before = None
    if baseline_src is not None:
        before = seed(
            backend, root / f"{backend}-baseline", baseline_url, args.revocations, baseline_src
        )
        note(f"{backend} (baseline): inserted in {before.seed_s:.1f} s")
    runs, baseline_runs = [], []
    for n in range(args.runs):
        runs.append(time_start(this.data_dir, this.url, this.token))
        shown = ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items())
        note(f"{backend} run {n + 1}/{args.runs}: {shown}")
        if before is not None:
            baseline_runs.append(
                time_start(before.data_dir, before.url, before.token, src=baseline_src)
            )
            shown = ", ".join(f"{k} {v:.2f}" for k, v in baseline_runs[-1].items())
            note(f"{backend} run {n + 1}/{args.runs}, baseline: {shown}")
    ready = statistics.median(r["ready_s"] for r in runs)
    revoked = statistics.median(r["revoked_s"] for r in runs)
    loader: dict[str, float | None] = {"loader_before_s": None, "loader_after_s": None}
    if not getattr(args, "skip_loaders", False):  # bench/nodes.py passes its own options
        database = url or f"sqlite:///{this.data_dir / 'roomkey.db'}"
        loaders = asyncio.run(_time_loaders(database, args.runs))
        shown = ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in loaders.items())
        note(f"{backend} loader in-process (medians): {shown}")
        loader = {f"loader_{k}_s": round(statistics.median(v), 2) for k, v in loaders.items()}
    case: dict[str, Any] = {
        **loader,
        "backend": backend,
        "revocations": args.revocations,
        "runs": len(runs),
        "seed_s": round(this.seed_s, 1),
        "ready_s": round(ready, 2),
        "revoked_s": round(revoked, 2),
        "all_revoked_s": [round(r["revoked_s"], 2) for r in runs],
        "target_met": revoked <= TARGET_S,
    }
    if baseline_runs:
        baseline = statistics.median(r["revoked_s"] for r in baseline_runs)
        case["baseline_revoked_s"] = round(baseline, 2)
        case["all_baseline_revoked_s"] = [round(r["revoked_s"], 2) for r in baseline_runs]
        case["ratio"] = round(revoked / baseline, 2)
    return case


def run(args: argparse.Namespace) -> dict[str, Any]:
    compile_sources()
    baseline_src: Path | None = getattr(args, "baseline_src", None)
    if baseline_src is not None:
        compile_sources(baseline_src)
    cases = []
    with tempfile.TemporaryDirectory(prefix="rk-start-bench-") as tmp:
        root = Path(tmp)
        if "postgresql" in args.backends:
            with contextlib.ExitStack() as stack:
                url = stack.enter_context(postgres_database(args.database_url))
                baseline_url = None
                if baseline_src is not None:
                    baseline_url = stack.enter_context(postgres_database(args.database_url))
                cases.append(run_backend("postgresql", args, root, url, baseline_url))
        if "sqlite" in args.backends:
            cases.append(run_backend("sqlite", args, root, None, None))
    return {"bench": "startup", "cpus": os.cpu_count(), "target_s": TARGET_S, "cases": cases}


def print_table(result: dict[str, Any]) -> None:
    print(f"\nstart-up of roomkey serve (medians; target: serving within {TARGET_S:g} s)")
    for c in result["cases"]:
        if "ratio" in c:
            print(
                f"{c['backend']}: {c['revoked_s']:.2f} s against the baseline's"
                f" {c['baseline_revoked_s']:.2f} s (ratio {c['ratio']:.2f}): this code"
                f" {c['all_revoked_s']}, baseline {c['all_baseline_revoked_s']}"
            )
    head = f"{'backend':<12}{'revocations':>13}{'runs':>6}{'/readyz 200':>13}{'revoked seen':>14}"
    print(head + f"{'loader before':>15}{'loader after':>14}")
    for c in result["cases"]:
        print(
            f"{c['backend']:<12}{c['revocations']:>13,}{c['runs']:>6}"
            f"{c['ready_s']:>11.2f} s{c['revoked_s']:>12.2f} s"
            + "".join(
                f"{c[k]:>12.2f} s" if c[k] is not None else f"{'-':>14}"
                for k in ("loader_before_s", "loader_after_s")
            )
            + ("" if c["target_met"] else "   (over target)")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 revocations, one run each")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    parser.add_argument("--revocations", type=int, default=REVOCATIONS, help="rows to insert")
    parser.add_argument("--runs", type=int, default=5, help="starts per backend (medians)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ROOMKEY_TEST_POSTGRES_URL", DEFAULT_PG),
        help="a PostgreSQL server to create the benchmark's database on",
    )
    parser.add_argument(
        "--skip-loaders", action="store_true", help="time roomkey serve only, not the loaders"
    )
    parser.add_argument(
        "--backends", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite"
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="the src directory of another checkout, started after each start of this code",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.revocations, args.runs = min(args.revocations, 20_000), 1
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not ROOMKEY.exists():
        print(f"missing {ROOMKEY}", file=sys.stderr)
        return 2
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
