"""The "floor": the essential work of one resolution, hand-written as one Polars lazy query per phase.

A lower bound to read our numbers against: the inputs are in-memory frames (nothing is read from
disk), and only what any implementation must do is done. Per leaf field, the string
``"<field>|<code version>|<root key>.<root field>|<version>|..."`` over every root field it reads (the
default mapping of the benchmark graphs: all of them) is hashed with xxhash64 (``polars-hash``). The
upstream is append-only history: root 0 holds both of its written versions in phase ``stale``, and the
latest row per id is picked by a write counter. ``new`` = expected ids missing from the leaf (anti
join); ``stale`` = ids whose field versions differ from the leaf's latest row (inner join + compare).

Left out on purpose (the library does them): the second, sample-level hash over the field versions,
truncation, the struct packing of ``*_by_field`` columns, orphan detection, opening a store.

Usage:
    python benchmarks/floor.py --n 100000 --rounds 3 --graph simple wide
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import polars as pl
import polars_hash  # noqa: F401  (registers the .nchash namespace)

from benchmarks.data import CODE_VERSION, ID, PROVENANCE_BY_FIELD, SHAPES, Shape, bump, root_frame, root_seed
from benchmarks.measure import PhaseSample, Timed, summary_row

WRITTEN = "written"  # position in the append-only history: the latest row per id has the highest


def _flat(df: pl.DataFrame, key: str, written: int) -> pl.DataFrame:
    """One root's rows with a column per field, named ``<root key>.<field>``, and the write counter."""
    versions = df[PROVENANCE_BY_FIELD].struct.unnest()
    return pl.concat(
        [df.select(ID), versions.rename({c: f"{key}.{c}" for c in versions.columns})], how="horizontal"
    ).with_columns(pl.lit(written).alias(WRITTEN))


def _latest(history: pl.LazyFrame) -> pl.LazyFrame:
    """The latest row per id of an append-only history."""
    return history.filter(pl.col(WRITTEN) == pl.col(WRITTEN).max().over(ID)).drop(WRITTEN)


def expected(shape: Shape, roots: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Per id, the leaf's field versions computed from the latest upstream rows."""
    joined = _latest(roots[0])
    for other in roots[1:]:
        joined = joined.join(_latest(other), on=ID, how="inner")
    parents = sorted(f"{key}.{f}" for key in shape.roots for f in shape.root_fields)
    parts = [pl.lit(p) if i % 2 == 0 else pl.col(p) for p in parents for i in range(2)]
    return joined.select(
        ID,
        *(
            pl.concat_str([pl.lit(field), pl.lit(CODE_VERSION), *parts], separator="|")
            .nchash.xxhash64()
            .alias(field)
            for field in shape.leaf_fields
        ),
    )


def resolve(shape: Shape, roots: list[pl.LazyFrame], stored: pl.LazyFrame | None) -> tuple[pl.DataFrame, ...]:
    """(new, stale) of the leaf given the roots' histories and the leaf's stored rows."""
    want = expected(shape, roots)
    if stored is None:
        return want.collect(), want.clear().collect()
    have = _latest(stored)
    new = want.join(have, on=ID, how="anti")
    differs = pl.any_horizontal(pl.col(f) != pl.col(f"{f}_stored") for f in shape.leaf_fields)
    stale = (
        want.join(have, on=ID, how="inner", suffix="_stored")
        .filter(differs)
        .select(want.collect_schema().names())
    )
    return tuple(pl.collect_all([new, stale]))


def one_round(shape: Shape, n: int) -> dict[str, PhaseSample]:
    """Both phases on fresh frames; per phase (timing, ok, rows new, rows stale)."""
    frames = [root_frame(n, shape.root_fields, root_seed(i)) for i in range(len(shape.roots))]
    roots = [_flat(df, key, 0) for df, key in zip(frames, shape.roots, strict=True)]
    bumped, bumped_ids = bump(frames[0])
    del frames
    gc.collect()
    with Timed() as t_new:
        new, _ = resolve(shape, [r.lazy() for r in roots], None)
    new_ok = new.height == n == new[ID].n_unique()
    rows_new = (new.height, 0)
    roots[0] = pl.concat([roots[0], _flat(bumped, shape.roots[0], 1)])
    stored = new.with_columns(pl.lit(0).alias(WRITTEN))
    del bumped, new
    gc.collect()
    with Timed() as t_stale:
        new, stale = resolve(shape, [r.lazy() for r in roots], stored.lazy())
    stale_ok = new.height == 0 and np.array_equal(np.sort(stale[ID].to_numpy()), bumped_ids)
    return {"new": (t_new, new_ok, *rows_new), "stale": (t_stale, stale_ok, new.height, stale.height)}


def bench_cell(graph: str, n: int, rounds: int) -> list[dict[str, Any]]:
    """Median over ``rounds`` of both phases after a warm-up round of 1,000 samples."""
    one_round(SHAPES[graph], 1000)
    runs = [one_round(SHAPES[graph], n) for _ in range(rounds)]
    return [
        summary_row(
            [r[phase] for r in runs],
            impl="floor (polars, xxhash64, in-memory history)",
            graph=graph,
            N=n,
            phase=phase,
            engine="polars-xxh64",
            hash="xxhash64",
        )
        for phase in ("new", "stale")
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[100_000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--graph", nargs="+", choices=sorted(SHAPES), default=sorted(SHAPES))
    args = p.parse_args(argv)
    ok = True
    for n in args.n:
        for graph in args.graph:
            for row in bench_cell(graph, n, args.rounds):
                ok &= row["ok"]
                print(json.dumps(row), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
