"""resolve_update on DuckDB: the native SQL engine vs the Polars engine (and the in-memory store).

Run: ``python benchmarks/bench_sql_engine.py [n_samples ...]`` (default 100000). Prints median seconds
of three runs for the phases ``new`` (nothing stored yet) and ``stale`` (half the upstream changed).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import polars as pl

import metaxy as mx


def graph() -> mx.FeatureGraph:
    g = mx.FeatureGraph()
    g.add_feature(mx.FeatureSpec(key="video", fields=[mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")]))
    g.add_feature(
        mx.FeatureSpec(
            key="transcript", deps=[mx.FeatureDep(feature="video")], fields=[mx.FieldSpec(key="text")]
        )
    )
    return g


def roots(n: int, tag: str) -> pl.DataFrame:
    ids = pl.int_range(0, n, eager=True).alias("sample_uid")
    value = pl.format("{}{}", pl.lit(tag), pl.col("sample_uid"))
    return pl.DataFrame(ids).with_columns(metaxy_provenance_by_field=pl.struct(audio=value, frames=value))


def median(fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(name: str, make: Callable[[], mx.MetadataStore], n: int) -> None:
    g = graph()
    with g.use(), make() as store:
        store.write_metadata("video", roots(n, "a"))
        new = median(lambda: store.resolve_update("transcript"))
        store.write_metadata("transcript", store.resolve_update("transcript").new)
        changed = roots(n // 2, "b")
        store.write_metadata("video", changed)
        stale = median(lambda: store.resolve_update("transcript"))
        print(f"{name:24s} n={n:>8d}  new {new:7.3f}s  stale {stale:7.3f}s")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    for n in sizes:
        run("memory md5 (polars)", lambda: mx.InMemoryMetadataStore(hash_algorithm="md5"), n)
        run(
            "duckdb md5 (polars)",
            lambda: mx.DuckDBMetadataStore(":memory:", hash_algorithm="md5", versioning_engine="polars"),
            n,
        )
        run(
            "duckdb md5 (native SQL)",
            lambda: mx.DuckDBMetadataStore(":memory:", hash_algorithm="md5", versioning_engine="native"),
            n,
        )
        run("duckdb xxhash32 (polars)", lambda: mx.DuckDBMetadataStore(":memory:"), n)


if __name__ == "__main__":
    main()
