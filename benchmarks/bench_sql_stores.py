"""resolve_update timings for the ClickHouse (chdb) and SQLAlchemy (PostgreSQL, SQLite) stores.

Usage: ``python benchmarks/bench_sql_stores.py STORE N [POSTGRES_URL]`` with STORE one of
``clickhouse-native``, ``clickhouse-polars``, ``postgres-native``, ``postgres-polars``, ``sqlite``.
Prints one JSON line: median seconds of ``resolve_update`` for the ``new`` and ``stale`` phases (3 runs
each), the write time, and the process's peak RSS. One store per process so RSS is its own.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl

import metaxy as mx
from benchmarks.stores import drop_postgres_tables


def make_store(kind: str, pg_url: str | None, tmp: str) -> mx.MetadataStore:
    if kind.startswith("clickhouse"):
        engine = "native" if kind.endswith("native") else "polars"
        return mx.ClickHouseMetadataStore(f"chdb://{tmp}", versioning_engine=engine)
    if kind.startswith("postgres"):
        assert pg_url, "postgres needs a URL"
        native = kind.endswith("native")
        return mx.SQLAlchemyMetadataStore(
            pg_url,
            table_prefix=f"b{uuid.uuid4().hex[:8]}_",
            enable_native_computation=native,
            hash_algorithm="md5",
            versioning_engine="native" if native else "polars",
        )
    return mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp}/b.db")


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    pg_url = sys.argv[3] if len(sys.argv) > 3 else None
    graph = mx.FeatureGraph()
    with graph.use():
        graph.add_feature(
            mx.FeatureSpec(key="bench/parent", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")])
        )
        graph.add_feature(
            mx.FeatureSpec(
                key="bench/child",
                deps=[mx.FeatureDep(feature="bench/parent")],
                fields=[mx.FieldSpec(key="a")],
            )
        )
        ids = pl.int_range(0, n, eager=True).alias("sample_uid")
        parent = pl.DataFrame([ids]).with_columns(
            metaxy_provenance_by_field=pl.struct(a=pl.format("a{}", "sample_uid"), b=pl.lit("b"))
        )
        tmp = tempfile.mkdtemp(prefix="metaxy_bench_sql_")
        store = make_store(kind, pg_url, tmp)
        try:
            measured = _phases(store, parent, n)
        finally:  # a run leaves nothing behind: not its files, not its PostgreSQL tables
            if kind.startswith("postgres"):
                drop_postgres_tables(store)
            shutil.rmtree(tmp, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"store": kind, "n": n, **measured, "peak_rss_mb": round(peak_mb)}))


def _phases(store: mx.MetadataStore, parent: pl.DataFrame, n: int) -> dict[str, float]:
    """The parent written, then ``new`` and ``stale`` timed three times each (median seconds)."""
    with store:
        write = timed(lambda: store.write_metadata("bench/parent", parent))
        new = [timed(lambda: store.resolve_update("bench/child")) for _ in range(3)]
        store.write_metadata("bench/child", store.resolve_update("bench/child").new)
        changed = parent.head(n // 10).with_columns(
            metaxy_provenance_by_field=pl.struct(a=pl.format("z{}", "sample_uid"), b=pl.lit("b"))
        )
        store.write_metadata("bench/parent", changed)
        stale = [timed(lambda: store.resolve_update("bench/child")) for _ in range(3)]
        assert store.resolve_update("bench/child").stale.height == n // 10
    return {
        "write_parent_s": round(write, 3),
        "new_median_s": round(statistics.median(new), 3),
        "stale_median_s": round(statistics.median(stale), 3),
    }


if __name__ == "__main__":
    main()
