"""``resolve_update`` on the SQL servers (PostgreSQL, SQLite) beside DuckDB, with the server's CPU time.

The rounds of ``run.py`` (``one_round``; simple graph: seed the roots, time ``new``, append the leaf and a 10% bump of
root 0, time ``stale``), reporting per phase the wall time, this process's CPU time and, for PostgreSQL,
the CPU time of the server's processes: on a shared machine the wall time of a server query mostly
measures the queue for a core, its CPU time does not.

Usage (the server's data directory lets the script read its processes' CPU times from /proc)::

    METAXY_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/sql_servers.py --n 100000 --pg-data /path/to/pgdata
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import metaxy as mx
from benchmarks.run import one_round
from benchmarks.stores import BY_NAME, available
from benchmarks.workload import BUILDERS

STORES = ["duckdb", "sqlite", "postgres-native-md5", "postgres"]


def server_cpu_s(postmaster: int | None) -> float:
    """CPU seconds of the PostgreSQL server: its live children plus the children it has reaped."""
    if postmaster is None:
        return 0.0
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(entry) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def timed(
    store: mx.MetadataStore, leaf: type[mx.Feature], postmaster: int | None
) -> tuple[tuple[float, ...], mx.Increment[Any]]:
    """Open, resolve, close: (wall s, this process's CPU s, the server's CPU s) and the increment."""
    server, cpu, wall = server_cpu_s(postmaster), time.process_time(), time.perf_counter()
    with store:
        increment = store.resolve_update(leaf)
    spent = (time.perf_counter() - wall, time.process_time() - cpu, server_cpu_s(postmaster) - server)
    return spent, increment


def rounds(name: str, n: int, count: int, postmaster: int | None) -> dict[str, list[tuple[float, ...]]]:
    """``count`` rounds of ``run.py`` on the simple graph, each phase checked, measured by :func:`timed`."""
    work = BUILDERS["simple"]()
    out: dict[str, list[tuple[float, ...]]] = {"new": [], "stale": []}
    for _ in range(count):
        sample = one_round(BY_NAME[name], work, n, partial(timed, postmaster=postmaster))
        for phase, (spent, ok, new, stale) in sample.items():
            assert ok, f"{name} {phase}: {new} new and {stale} stale rows, not the expected increment"
            assert isinstance(spent, tuple)  # measured here by `timed`, not in a phase process
            out[phase].append(spent)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", nargs="+", default=STORES, choices=STORES)
    parser.add_argument("--pg-data", type=Path, default=None, help="the PostgreSQL server's data directory")
    args = parser.parse_args()
    postmaster = None
    if args.pg_data is not None:
        postmaster = int((args.pg_data / "postmaster.pid").read_text().splitlines()[0])
    print(f"N = {args.n:,}, {args.rounds} round(s), median; load average {os.getloadavg()[0]:.1f} at start")
    print("| store | phase | wall s | client CPU s | server CPU s |")
    print("|---|---|---:|---:|---:|")
    for config in available(args.store):
        for phase, spent in rounds(config.name, args.n, args.rounds, postmaster).items():
            wall, cpu, server = (statistics.median(s[i] for s in spent) for i in range(3))
            server_text = f"{server:.2f}" if postmaster and config.name.startswith("postgres") else "–"
            print(f"| {config.name} | {phase} | {wall:.2f} | {cpu:.2f} | {server_text} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
