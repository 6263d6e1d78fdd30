"""bench/mixed_load.py runs end to end with a few clients and prints every figure (a smoke run:
nothing here asserts a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "bench" / "mixed_load.py"


def test_a_short_run_reports_each_operation_alone_and_in_the_mix() -> None:
    argv = [sys.executable, str(BENCH), "--runs", "1", "--duration", "1", "--clients", "4"]
    done = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    median = result["median"]
    assert set(median["alone"]["ops"]) == {"mint", "all"}
    assert set(median["mix"]["ops"]) == {"mint", "verify", "revoke", "room", "all"}
    for op, figures in median["mix"]["ops"].items():
        assert figures["rps"] > 0 and figures["p99_ms"] >= figures["p50_ms"] > 0, op
        assert figures["bad"] == 0, op  # every answer had the status its operation expects
    assert "p99 in the mix / minting's p99 alone" in done.stdout
    assert "load average" in done.stdout
