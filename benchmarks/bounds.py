"""The least wall time this machine leaves the default store's ``new`` phase, from the CPU time its
two essential kernels take, beside what the ≥ 5× target allows.

Per graph, on a DuckDB store holding the roots (written untimed), medians of ``--rounds``:

- **read**: DuckDB reading the columns a resolution needs (ids and the roots' field versions) into
  Polars, bare: a query of our own on the store's file, no metaxy in between;
- **hash**: metaxy resolving the same roots held in memory: reads nothing, computes the versions the
  golden vectors fix (field recipes, sample hash, truncation) and the increment;
- **least wall**: (read + hash) CPU / cores: no schedule of that work on this machine's cores takes less wall
  time (the two kernels already keep every core busy);
- **ours**: the DuckDB store's whole resolution (open, ``resolve_update``, close), wall and CPU;
- **5× target**: the anchor's fastest ``new`` of the cell / 5, from a ``bench-compare`` results file
  (``--from``; the cell's size must match ``--n``).

Usage:
    python benchmarks/bounds.py --n 1000000 --from benchmarks/results/compare-<stamp>.jsonl
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import polars as pl

import metaxy as mx
from benchmarks.compare import Cell, read_results
from benchmarks.data import ID
from benchmarks.measure import cpu_seconds
from benchmarks.workload import BUILDERS, Workload, root_frames
from metaxy.constants import DATA_VERSION_BY_FIELD
from metaxy.stores._duckdb_instances import STRING_VIEWS
from metaxy.stores.duckdb.store import DuckDBMetadataStore

HEADER = (
    "| graph | N | cores | read CPU s | hash CPU s | least wall s | ours s (CPU s) | 5× target s | least / target |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def timed(work: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``work`` over ``rounds`` runs, after one run to warm up."""
    work()
    walls, cpus = [], []
    for _ in range(rounds):
        gc.collect()
        wall, cpu = time.perf_counter(), cpu_seconds()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bare_read(
    con: duckdb.DuckDBPyConnection, tables: list[str], fields: tuple[str, ...]
) -> Callable[[], object]:
    """Reading the ids and field versions of ``tables`` through ``con`` into Polars."""
    columns = ", ".join(f'"{DATA_VERSION_BY_FIELD}"."{f}" AS "{f}"' for f in fields)
    queries = [f'SELECT "{ID}", {columns} FROM "{t}"' for t in tables]
    return lambda: [pl.from_arrow(con.sql(q).to_arrow_table()) for q in queries]


def target(sources: list[Path], graph: str, n: int) -> float | None:
    """A fifth of the anchor's fastest ``new`` of the cell in the results files ``sources``."""
    anchors = Cell.of(read_results(sources), (graph, n, "new", False)).anchors
    return min(a["median_s"] for a in anchors) / 5 if anchors else None


def measure(work: Workload, n: int, rounds: int, folder: Path) -> dict[str, float]:
    """CPU seconds of the bare read and of the hashing, wall and CPU seconds of our whole resolution."""
    path = folder / f"{work.name}.duckdb"
    with work.graph.use():
        memory = mx.InMemoryMetadataStore()
        with DuckDBMetadataStore(path) as disk, memory:
            for root, frame in zip(work.roots, root_frames(work, n), strict=True):
                disk.write_metadata(root, frame)
                memory.write_metadata(root, frame)
            tables = [disk.table_name(r.spec().key) for r in work.roots]
            _, hash_cpu = timed(partial(memory.resolve_update, work.leaf), rounds)
        del memory  # its copy of the roots

        def ours() -> object:
            with DuckDBMetadataStore(path) as store:
                return store.resolve_update(work.leaf)

        ours_wall, ours_cpu = timed(ours, rounds)
    with duckdb.connect(str(path), read_only=True, config=STRING_VIEWS) as con:  # as the store reads
        _, read_cpu = timed(bare_read(con, tables, work.root_fields), rounds)
    return {"read": read_cpu, "hash": hash_cpu, "ours": ours_wall, "ours_cpu": ours_cpu}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--graph", nargs="+", default=["simple", "wide"])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--from", dest="sources", type=Path, nargs="*", default=[], help="bench-compare results")
    args = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    lines = [HEADER]
    with tempfile.TemporaryDirectory(prefix="metaxy-bounds-") as folder:
        for graph in args.graph:
            m = measure(BUILDERS[graph](), args.n, args.rounds, Path(folder))
            least = (m["read"] + m["hash"]) / cores
            goal = target(args.sources, graph, args.n) if args.sources else None
            over = f"{least / goal:.2f}" if goal else "-"
            lines.append(
                f"| {graph} | {args.n:,} | {cores} | {m['read']:.3f} | {m['hash']:.3f} | {least:.3f} "
                f"| {m['ours']:.3f} ({m['ours_cpu']:.3f}) | {f'{goal:.3f}' if goal else '-'} | {over} |"
            )
            print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
