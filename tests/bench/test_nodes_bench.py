"""bench/nodes.py runs end to end on two nodes with tiny counts and prints every figure (a smoke
run: nothing here asserts a timing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from store_support import pg_execute, postgres_url, require_service, run_in_thread

from redis_support import require_redis

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "bench" / "nodes.py"


def test_a_tiny_run_reports_propagation_throughput_and_webhooks() -> None:
    require_redis()
    url = postgres_url()
    require_service("PostgreSQL", lambda: run_in_thread(pg_execute(url, "SELECT 1")), at=url)
    seconds = "1" if shutil.which("wrk") else "0"  # no wrk (it is not a Python package): no load
    argv = [
        sys.executable,
        str(BENCH),
        "--nodes",
        "2",
        "--runs",
        "1",
        "--revocations",
        "3",
        "--seconds",
        seconds,
        "--events",
        "4",
        "--endpoints",
        "2",
        "--startup-revocations",
        "200",
        "--database-url",
        url,
        "--json",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (case,) = result["cases"]
    assert case["nodes"] == 2 and case["propagation_ms"]["samples"] == 3
    assert case["polling_ms"]["samples"] == 3
    assert case["webhooks_per_s"] >= 0
    if seconds != "0":
        assert case["token_req_per_s"] > 0 and case["audit_rows_per_commit"] >= 1
    assert "target: a revocation enforced on every node within 1 s" in done.stdout
    assert result["startup"]["revocations"] == 200 and result["startup"]["revoked_s"] > 0
    assert result["startup"]["revocations"] == 200 and result["startup"]["revoked_s"] > 0
