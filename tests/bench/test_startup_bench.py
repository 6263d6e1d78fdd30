"""bench/startup.py runs end to end at a tiny size on both backends and prints every figure (a
smoke run: nothing here asserts a timing, only that no revoked token was accepted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from store_support import postgres_url, require_service, run_in_thread

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "bench" / "startup.py"


def _ping(url: str) -> None:
    import asyncpg

    async def ping() -> None:
        await (await asyncpg.connect(url)).close()

    run_in_thread(ping())


def test_a_tiny_run_times_both_backends_and_sees_the_revocation() -> None:
    url = postgres_url()
    require_service("PostgreSQL", lambda: _ping(url), at=url.split("@")[-1])
    argv = [sys.executable, str(BENCH), "--revocations", "500", "--runs", "1", "--json"]
    argv += ["--database-url", url]
    backends = "postgresql,sqlite"
    done = subprocess.run(
        [*argv, "--backends", backends], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert [c["backend"] for c in result["cases"]] == backends.split(",")
    for case in result["cases"]:
        assert case["revocations"] == 500 and case["runs"] == 1
        assert 0 < case["ready_s"] <= case["revoked_s"]
    assert "run 1/1: ready_s" in done.stderr
