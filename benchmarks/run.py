"""Benchmark ``resolve_update`` on the ``simple`` and ``wide`` graphs; prints a table, writes JSON lines.

Per round: a fresh store in a new temp directory; roots seeded (untimed); phase ``new`` timed (open +
resolve_update + collect + close); the leaf's rows and a re-written root 0 with 10% of ``audio`` bumped
are appended (untimed); phase ``stale`` timed the same way. Results are checked (N new rows, exactly the
bumped ids stale) so a fast wrong answer shows up as ``ok: false``.

Usage:
    python benchmarks/run.py                           # N = 10k, 100k; every available store
    BENCH_N="1000000 10000000" python benchmarks/run.py --graph wide --rounds 1
    python benchmarks/run.py --n 100000 --store memory --json out.jsonl
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import metaxy as mx
from benchmarks.measure import Timed, current_rss_mib, summary_row
from benchmarks.stores import CONFIGS, StoreConfig, available, make_store
from benchmarks.workload import BUILDERS, ID, Workload, bump, root_frames

IMPL = f"metaxy=={mx.__version__}"
DEFAULT_N = "10000 100000"
PHASES = ("new", "stale")
M = TypeVar("M")


def timed_resolve(store: mx.MetadataStore, leaf: type[mx.Feature]) -> tuple[Timed, mx.Increment[Any]]:
    """Open the store, resolve (collected), close: the anchor's timed region."""
    with Timed() as timed, store:
        increment = store.resolve_update(leaf)
    return timed, increment


def one_round(
    config: StoreConfig,
    work: Workload,
    n: int,
    measure: Callable[[mx.MetadataStore, type[mx.Feature]], tuple[M, mx.Increment[Any]]] = timed_resolve,
) -> dict[str, tuple[M, bool, int, int]]:
    """Both phases on a fresh store; per phase (``measure``'s figures, ok, rows new, rows stale).

    ``measure`` opens the store, resolves the leaf and closes it, returning what it measured beside the
    increment (default: :func:`timed_resolve`, wall time and RSS).

    Input frames are generated per round and dropped once written, so the timed regions hold only
    what the store and the resolution hold (a pipeline resolving a leaf does not keep its roots'
    input in memory either).
    """
    workdir = Path(tempfile.mkdtemp(prefix="metaxy_bench_"))
    try:
        store = make_store(config, workdir)
        with work.graph.use():
            with store:
                for root, frame in zip(work.roots, root_frames(work, n), strict=True):
                    store.write_metadata(root, frame)
            gc.collect()
            t_new, inc = measure(store, work.leaf)
            new_ok = inc.new.height == n and inc.new[ID].n_unique() == n and inc.stale.height == 0
            rows_new = (inc.new.height, inc.stale.height)
            bumped, bumped_ids = bump(next(root_frames(work, n)))  # root 0 again
            with store:
                store.write_metadata(work.leaf, inc.new)
                store.write_metadata(work.roots[0], bumped)
            del inc, bumped
            gc.collect()
            t_stale, inc = measure(store, work.leaf)
            stale_ids = np.sort(inc.stale[ID].to_numpy())
            stale_ok = (
                inc.new.height == 0 and np.array_equal(stale_ids, bumped_ids) and inc.orphaned.height == 0
            )
            rows_stale = (inc.new.height, inc.stale.height)
        return {"new": (t_new, new_ok, *rows_new), "stale": (t_stale, stale_ok, *rows_stale)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_cell(config: StoreConfig, graph: str, n: int, rounds: int) -> list[dict[str, Any]]:
    """Median over ``rounds`` of both phases for one (store, graph, N) after a tiny warm-up round."""
    work = BUILDERS[graph]()
    one_round(config, work, 1000)  # warm-up
    runs = [one_round(config, work, n) for _ in range(rounds)]
    return [
        summary_row(
            [r[phase] for r in runs],
            impl=IMPL,
            graph=graph,
            N=n,
            phase=phase,
            engine=config.name,
            hash=config.hash_algorithm,
        )
        for phase in PHASES
    ]


def markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of result rows."""
    lines = [
        "| store | graph | N | phase | median s | min s | median CPU s | peak RSS MiB | ok |",
        "|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['graph']} | {r['N']:,} | {r['phase']} | {r['median_s']:.3f} "
            f"| {r['min_s']:.3f} | {r['median_cpu_s']:.3f} | {r['phase_peak_rss_mib']:.0f} | {'yes' if r['ok'] else 'NO'} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--n", type=int, nargs="+", default=[int(x) for x in os.environ.get("BENCH_N", DEFAULT_N).split()]
    )
    p.add_argument("--graph", nargs="+", choices=[*BUILDERS], default=[*BUILDERS])
    p.add_argument("--store", nargs="+", choices=[c.name for c in CONFIGS], default=[c.name for c in CONFIGS])
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    p.add_argument("--json", type=Path, default=None, help="append JSON lines here (default: stdout only)")
    p.add_argument("--quiet", action="store_true", help="print JSON lines only, no table")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configs = available(args.store)
    rows: list[dict[str, Any]] = []
    for n in args.n:
        for graph in args.graph:
            for config in configs:
                for row in bench_cell(config, graph, n, args.rounds):
                    row["process_rss_mib"] = round(current_rss_mib(), 1)
                    rows.append(row)
                    line = json.dumps(row)
                    print(line, flush=True)
                    if args.json is not None:
                        with args.json.open("a") as f:
                            f.write(line + "\n")
    if not args.quiet:
        print()
        print(markdown(rows))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
