"""bench/webhooks.py runs end to end on a few events and prints every figure (a smoke run:
nothing here asserts a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhooks.py"


def test_a_quick_run_reports_both_rates_and_their_ratio() -> None:
    argv = [sys.executable, str(BENCH), "--quick", "--events", "20", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (case,) = result["cases"]
    assert case["deliveries"] == 20 and case["unverified"] == 0
    assert case["roomkey_per_s"] > 0 and case["bare_httpx_per_s"] > 0 and case["ratio"] > 0
    assert "E=1 run 1/1: roomkey" in done.stderr
