"""The cached-read benchmark runs (tiny N) and shows hot reads with zero backend reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "cached_read.py"


def test_benchmark_shows_hot_reads_skip_storage() -> None:
    env = {**os.environ, "BENCH_N": "300"}
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, env=env
    ).stdout
    rows = {
        line[:38].strip(): line[38:].split()
        for line in out.splitlines()
        if line.startswith(("direct", "cached"))
    }
    assert rows["cached, hot"][1:3] == ["0.0", "0.0"]  # _scan and _read_rows calls per hot read
    assert float(rows["direct (no cache)"][1]) >= 1.0
