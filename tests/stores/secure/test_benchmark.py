"""The wrapper benchmark runs (tiny N) and prints a row per wrapper for both operations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[3] / "benchmarks" / "wrappers.py"


def test_the_wrapper_benchmark_prints_every_case() -> None:
    env = {**os.environ, "BENCH_N": "200", "BENCH_REPEATS": "1"}
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, env=env
    ).stdout
    rows = {line[:30].strip(): line[30:].split() for line in out.splitlines()[2:]}
    assert set(rows) == {
        "plain",
        "secure (RBAC check per call)",
        "secure + audit log",
        "encrypted (1 string column)",
    }
    assert all(
        len(cells) == 4 and cells[1].endswith("x") and cells[3].endswith("x") for cells in rows.values()
    )
    assert rows["plain"][1] == "1.00x"
