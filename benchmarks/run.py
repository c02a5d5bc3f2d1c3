"""Benchmark ``resolve_update`` on the ``simple`` and ``wide`` graphs; prints a table, writes JSON lines.

Per round: a fresh store in a new temp directory; roots seeded (untimed); phase ``new`` timed (open +
resolve_update + collect + close); the leaf's rows and a re-written root 0 with 10% of ``audio`` bumped
are appended (untimed); phase ``stale`` timed the same way. Results are checked (N new rows, exactly the
bumped ids stale) so a fast wrong answer shows up as ``ok: false``. With ``--own-process`` each timed
phase runs in a process of its own (warmed up on a tiny store first), which opens the store this one
wrote: its memory then holds only what the phase needs, not what the allocators kept of the writes.

Usage:
    python benchmarks/run.py                           # N = 10k, 100k; every available store
    BENCH_N="1000000 10000000" python benchmarks/run.py --graph wide --rounds 1
    python benchmarks/run.py --n 100000 --store memory --json out.jsonl
    python benchmarks/run.py --n 1000000 --store duckdb --own-process
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

import metaxy as mx
from benchmarks.data import answer
from benchmarks.measure import Figures, Timed, current_rss_mib, print_sample, run_phase, summary_row
from benchmarks.stores import CONFIGS, StoreConfig, available, make_store
from benchmarks.workload import BUILDERS, Workload, bump, root_frames

IMPL = f"metaxy=={mx.__version__}"
REPO = Path(__file__).resolve().parents[1]
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
    *,
    own_process: bool = False,
) -> dict[str, tuple[M | Figures, bool, int, int]]:
    """Both phases on a fresh store; per phase (``measure``'s figures, ok, rows new, rows stale).

    ``measure`` opens the store, resolves the leaf and closes it, returning what it measured beside the
    increment (default: :func:`timed_resolve`, wall time and RSS). With ``own_process``, each phase is
    timed by :func:`timed_resolve` in a process of its own instead (:func:`phase_process`).

    Input frames are generated per round and dropped once written, so the timed regions hold only
    what the store and the resolution hold (a pipeline resolving a leaf does not keep its roots'
    input in memory either).
    """
    workdir = Path(tempfile.mkdtemp(prefix="metaxy_bench_"))
    store = make_store(config, workdir)
    try:
        with work.graph.use():
            with store:
                for root, frame in zip(work.roots, root_frames(work, n), strict=True):
                    store.write_metadata(root, frame)
            gc.collect()
            new: tuple[M | Figures, bool, int, int]
            stale: tuple[M | Figures, bool, int, int]
            if own_process:  # the phase process writes the leaf's rows too
                new = run_phase(phase_command(config, work, n, "new", workdir), cwd=REPO)
            else:
                figures, increment = measure(store, work.leaf)
                new = (figures, *answer("new", increment, n))
                with store:
                    store.write_metadata(work.leaf, increment.new)
                del increment
            bumped, bumped_ids = bump(next(root_frames(work, n)))  # root 0 again
            with store:
                store.write_metadata(work.roots[0], bumped)
            del bumped
            gc.collect()
            if own_process:
                stale = run_phase(phase_command(config, work, n, "stale", workdir), cwd=REPO)
            else:
                figures, increment = measure(store, work.leaf)
                stale = (figures, *answer("stale", increment, n, bumped_ids))
        return {"new": new, "stale": stale}
    finally:
        if config.drop is not None:
            config.drop(store)
        shutil.rmtree(workdir, ignore_errors=True)


def phase_command(config: StoreConfig, work: Workload, n: int, phase: str, workdir: Path) -> list[str]:
    """The command line of a process that times ``phase`` on the store of ``config`` in ``workdir``."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--phase", phase, "--workdir", str(workdir)),
        *("--graph", work.name, "--n", str(n), "--store", config.name),
    ]


def phase_process(config: StoreConfig, work: Workload, n: int, phase: str, workdir: Path) -> None:
    """A phase process: warm up, time ``phase`` on the store in ``workdir``, print the sample.

    The warm-up is a round of 1,000 samples in a directory of its own (as :func:`bench_cell` warms up),
    so the timed phase does not pay first-call costs (imports, plugin loads). After ``new`` the leaf's
    rows are written, as :func:`one_round` does between the phases.
    """
    one_round(config, work, 1000)
    gc.collect()
    store = make_store(config, workdir)
    with work.graph.use():
        timed, increment = timed_resolve(store, work.leaf)
        bumped_ids = bump(next(root_frames(work, n)))[1] if phase == "stale" else None
        sample = (timed, *answer(phase, increment, n, bumped_ids))
        if phase == "new":
            with store:
                store.write_metadata(work.leaf, increment.new)
    print_sample(sample)


def bench_cell(
    config: StoreConfig, graph: str, n: int, rounds: int, *, own_process: bool = False
) -> list[dict[str, Any]]:
    """Median over ``rounds`` of both phases after a tiny warm-up round.

    With ``own_process``, each phase runs in a process of its own (see :func:`one_round`), except
    for stores whose data lives in the process (the in-memory store).
    """
    work = BUILDERS[graph]()
    own_process = own_process and config.persistent
    if not own_process:
        one_round(config, work, 1000)  # warm-up (a phase process warms itself up)
    runs = [one_round(config, work, n, own_process=own_process) for _ in range(rounds)]
    return [
        summary_row(
            [r[phase] for r in runs],
            impl=IMPL,
            graph=graph,
            N=n,
            phase=phase,
            engine=config.name,
            hash=config.hash_algorithm,
            own_process=own_process,
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
    p.add_argument(
        "--own-process",
        action="store_true",
        help="time each phase in a process of its own, which opens the store the benchmark wrote "
        "(not the in-memory store); without it, phases run in the process that wrote the data",
    )
    # the arguments of a phase process (phase_command): time one phase on the store in --workdir
    p.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase is not None:
        (config,) = available(args.store)
        phase_process(config, BUILDERS[args.graph[0]](), args.n[0], args.phase, args.workdir)
        return 0
    configs = available(args.store)
    rows: list[dict[str, Any]] = []
    for n in args.n:
        for graph in args.graph:
            for config in configs:
                for row in bench_cell(config, graph, n, args.rounds, own_process=args.own_process):
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
