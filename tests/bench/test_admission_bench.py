"""bench/admission.py runs end to end on a small room and prints every figure (a smoke run:
nothing here asserts a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "bench" / "admission.py"


def test_a_quick_run_reports_joins_fan_out_memory_and_the_targets() -> None:
    argv = [sys.executable, str(BENCH), "--quick", "--participants", "20", "--rate", "100"]
    argv += ["--events", "2", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (case,) = result["cases"]
    assert case["n"] == 20 and case["live"] == 20 and case["failure_count"] == 0
    for key in ("join_p50_ms", "join_p99_ms", "fanout_p99_ms", "kib_per_session"):
        assert case[key] > 0, key
    assert set(result["targets"]) == {"live_sessions", "fanout_p99_ms", "join_p99_ms"}
    assert "N=20 run 1/1: join p50" in done.stderr
