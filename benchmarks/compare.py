"""Side by side: Metaxy 0.1.11 (anchor), the hand-written floor, and this metaxy, cell by cell.

For each (graph, N) the three run back to back in separate processes, so machine load hits them alike:
the anchor (``benchmarks/anchor.py`` run by ``.anchor-venv``'s Python, which holds the published
Metaxy 0.1.11; one process per configuration), the floor (``benchmarks/floor.py``: one hand-written
Polars query, xxhash64, on in-memory frames) and ours (``benchmarks/run.py``). Prints ratios
ours/anchor-fastest and ours/floor; JSON lines land in ``benchmarks/results/``. ``make bench-compare``
creates the anchor virtualenv first (pinned versions: see the Makefile).

Usage:
    python benchmarks/compare.py --n 100000 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
ANCHOR_PY = REPO / ".anchor-venv" / "bin" / "python"
ANCHOR_ENGINES = ("delta-polars", "duckdb-native", "duckdb-polars")
Row = dict[str, Any]


def json_lines(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[Row]:
    """Run ``cmd`` and parse the JSON objects it prints (other lines are echoed)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
        elif line.strip():
            print(f"  [{Path(cmd[1]).name}] {line}")
    if proc.returncode not in (0, 1) or not rows:
        print(f"  [{Path(cmd[1]).name}] exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return rows


def anchor(graph: str, n: int, rounds: int, engine: str) -> list[Row]:
    # both packages import as `metaxy`: neither the working directory nor PYTHONPATH may hold ours
    cmd = [str(ANCHOR_PY), str(BENCH / "anchor.py"), "--n", str(n), "--rounds", str(rounds)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory(prefix="metaxy_anchor_cwd_") as cwd:
        return json_lines([*cmd, "--graph", graph, "--engine", engine], cwd=Path(cwd), env=env)


def floor(graph: str, n: int, rounds: int) -> list[Row]:
    cmd = [sys.executable, str(BENCH / "floor.py"), "--n", str(n), "--rounds", str(rounds), "--graph", graph]
    return json_lines(cmd, cwd=REPO)


def ours(graph: str, n: int, rounds: int, stores: list[str]) -> list[Row]:
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "run.py"),
        "--quiet",
        "--n",
        str(n),
        "--rounds",
        str(rounds),
    ]
    return json_lines([*cmd, "--graph", graph, "--store", *stores], cwd=REPO)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}"


def rss(row: Row | None) -> str:
    """Peak RSS of the timed region and, in brackets, its growth over what the process held at its start."""
    if row is None:
        return "-"
    peak, start = row["phase_peak_rss_mib"], row["phase_start_rss_mib"]
    return f"{peak:.0f} (+{peak - start:.0f})"


def table(rows: list[Row]) -> str:
    """One line per (graph, N, phase, our store): anchor fastest, floor, ours and the ratios."""
    out = [
        "| graph | N | phase | anchor fastest s (config) | floor s | store | ours s | ours/anchor "
        "| ours/floor | peak RSS MiB (growth) anchor / ours | ok |",
        "|---|---:|---|---|---:|---|---:|---:|---:|---|---|",
    ]
    cells = sorted(
        {(r["graph"], r["N"], r["phase"]) for r in rows}, key=lambda c: (c[1], c[0], c[2] != "new")
    )
    for g, n, phase in cells:
        same = [r for r in rows if (r["graph"], r["N"], r["phase"]) == (g, n, phase)]
        anc = [r for r in same if r["impl"].startswith("metaxy==0.1")]
        best = min(anc, key=lambda r: r["median_s"]) if anc else None
        flo = next((r["median_s"] for r in same if r["impl"].startswith("floor")), None)
        for r in (r for r in same if r["impl"].startswith("metaxy==") and r not in anc):
            a_s = best["median_s"] if best else None
            out.append(
                f"| {g} | {n:,} | {phase} | {a_s if a_s else '-'} ({best['engine'] if best else '-'}) | {flo or '-'} "
                f"| {r['engine']} | {r['median_s']} | {ratio(r['median_s'], a_s)} | {ratio(r['median_s'], flo)} "
                f"| {rss(best)} / {rss(r)} | {'yes' if r['ok'] else 'NO'} |"
            )
    return "\n".join(out)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--n", type=int, nargs="+", default=[int(x) for x in os.environ.get("BENCH_N", "100000").split()]
    )
    p.add_argument("--graph", nargs="+", default=["simple", "wide"])
    p.add_argument("--no-floor", action="store_true", help="skip the hand-written floor")
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    p.add_argument(
        "--anchor-engine", nargs="*", default=list(ANCHOR_ENGINES), help="none: skip Metaxy 0.1.11"
    )
    p.add_argument(
        "--store", nargs="+", default=["memory"], help="our store configurations (benchmarks/stores.py)"
    )
    args = p.parse_args(argv)
    if args.anchor_engine and not ANCHOR_PY.exists():
        sys.exit(f"error: {ANCHOR_PY} is missing; run `make bench-compare` (it creates .anchor-venv).")
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"compare-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
    print(f"load before: {uptime()}")
    rows: list[Row] = []
    for n in args.n:
        for g in args.graph:
            print(f"cell {g} N={n:,}", flush=True)
            for engine in args.anchor_engine:
                rows += anchor(g, n, args.rounds, engine)
            if not args.no_floor:
                rows += floor(g, n, args.rounds)
            rows += ours(g, n, args.rounds, args.store)
            with out.open("w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"load after: {uptime()}\nJSON lines: {out}\n")
    print(table(rows))
    return 0 if all(r.get("ok", False) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
