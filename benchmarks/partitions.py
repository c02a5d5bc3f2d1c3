"""Files read with and without partition pruning, on a partitioned Delta store (and Iceberg when installed).

A root feature of N samples (default 1M) is written in ``--appends`` appends (default 10) to a table
partitioned by ``dataset`` (8 values) and the day of ``captured_at`` (30 days), plus an unpartitioned
copy. For each query the table prints the data files the read opens (counted from the table's log:
``partition_files``) out of the files of the table, the rows returned and the median wall time:

- a read of one dataset on one day, of one dataset, and of everything;
- ``resolve_update(filters=dataset == ...)`` of the same samples (10% bumped);
- ``read_metadata(shard=(1, 4))`` on a table with ``shard_buckets=8``.

    python benchmarks/partitions.py                 # N = 1,000,000
    python benchmarks/partitions.py --n 100000 --repeat 5

Pruning is proven by counting files, not by time: the times only show what skipping costs or saves.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import polars as pl

import metaxy as mx

DATASETS = 8
DAYS = 30


class Capture(mx.Feature, spec=mx.FeatureSpec(key="bench/capture", fields=[mx.FieldSpec(key="image")])):
    pass


def frame(start: int, n: int, rng: np.random.Generator, *, tag: str = "i") -> pl.DataFrame:
    ids = pl.Series("sample_uid", np.arange(start, start + n, dtype=np.int64))
    versions = pl.Series(rng.integers(0, 2**20, n)).cast(pl.String)
    return pl.DataFrame(ids).with_columns(
        dataset=pl.lit("ds") + (pl.col("sample_uid") % DATASETS).cast(pl.String),
        captured_at=pl.lit(datetime(2024, 6, 1)) + pl.duration(days=pl.col("sample_uid") % DAYS),
        metaxy_provenance_by_field=pl.struct((pl.lit(tag) + versions).alias("image")),
    )


def fill(store: mx.MetadataStore, n: int, appends: int) -> None:
    rng = np.random.default_rng(42)
    step = n // appends
    with store:
        for k in range(appends):
            store.write_metadata(Capture, frame(k * step, step, rng))


def median_seconds(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(store: Any, n: int, repeat: int) -> list[tuple[str, str, int, int, int, float]]:
    one_day = (pl.col("dataset") == "ds3") & (pl.col("day") == 6)
    one_day_plain = (pl.col("dataset") == "ds3") & (pl.col("captured_at").dt.day() == 6)
    one_set = pl.col("dataset") == "ds3"
    rows = []
    with store:
        partitioned = "day" in store.partition_columns(Capture)
        for label, filters in (
            ("one dataset, one day", one_day if partitioned else one_day_plain),
            ("one dataset", one_set),
            ("everything", None),
        ):
            seconds, got = median_seconds(
                lambda f=filters: store.read_metadata(Capture, filters=f).collect(), repeat
            )
            read, total = store.partition_files(Capture, filters=filters) or (0, 0)
            rows.append((store.name, f"read {label}", read, total, got.height, seconds))
        # the stored samples with 10% of them changed: those come back stale
        expected = frame(0, n, np.random.default_rng(42)).with_columns(
            pl.when(pl.col("sample_uid") % 10 == 3)
            .then(pl.struct(image=pl.lit("changed")))
            .otherwise(pl.col("metaxy_provenance_by_field"))
            .alias("metaxy_provenance_by_field")
        )
        seconds, inc = median_seconds(
            lambda: store.resolve_update(Capture, samples=expected, filters=one_set), repeat
        )
        read, total = store.partition_files(Capture, filters=one_set) or (0, 0)
        rows.append(
            (
                store.name,
                "resolve_update, one dataset",
                read,
                total,
                inc.new.height + inc.stale.height,
                seconds,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="metaxy_partitions_"))
    results = []
    try:
        layouts: dict[str, Callable[[], Any]] = {
            "delta, unpartitioned": lambda: mx.DeltaMetadataStore(
                work / "plain", name="delta, unpartitioned"
            ),
            "delta, dataset/y/m/day": lambda: mx.DeltaMetadataStore(
                work / "parted",
                name="delta, dataset/y/m/day",
                partition_cols=["dataset"],
                time_partitioning=("captured_at", "day"),
            ),
        }
        for make in layouts.values():
            store = make()
            fill(store, args.n, args.appends)
            results += measure(store, args.n, args.repeat)
        sharded = mx.DeltaMetadataStore(work / "sharded", name="delta, shard_buckets=8", shard_buckets=8)
        fill(sharded, args.n, args.appends)
        with sharded:
            for shard in ((1, 4), None):
                seconds, got = median_seconds(
                    lambda s=shard: sharded.read_metadata(Capture, shard=s).collect(), args.repeat
                )
                read, total = sharded.partition_files(Capture, shard=shard)
                results.append((sharded.name, f"read shard={shard}", read, total, got.height, seconds))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nN = {args.n:,} rows in {args.appends} appends; median of {args.repeat}\n")
    print(f"| {'store':<24} | {'query':<30} | files read | of files | rows | seconds |")
    print(f"|{'-' * 26}|{'-' * 32}|-----------:|---------:|-----:|--------:|")
    for name, query, read, total, n_rows, seconds in results:
        print(f"| {name:<24} | {query:<30} | {read:>10} | {total:>8} | {n_rows:,} | {seconds:7.3f} |")


if __name__ == "__main__":
    main()
