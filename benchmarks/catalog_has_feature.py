"""``has_feature`` through a MaterializationCatalog vs a store probe (reading the feature's table).

Builds one store holding F features of N rows each (identical user data, each with its own
feature version), then times ``store.has_feature(feature)`` with and without a catalog, for a
feature that is stored (hit) and one that is not at its current version (miss: the probe scans).

    python benchmarks/catalog_has_feature.py --features 100 --rows 1000000
    python benchmarks/catalog_has_feature.py --features 100 --rows 100000 --stores memory,sqlite

Prints a table of median microseconds per call. PostgreSQL is included with
``--postgres-url postgresql://...`` (catalog only).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

import metaxy as mx
from metaxy.constants import (
    CREATED_AT,
    DATA_VERSION,
    DATA_VERSION_BY_FIELD,
    DELETED_AT,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROJECT_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
)

TS = pl.Datetime("us", "UTC")


def base_frame(rows: int) -> pl.DataFrame:
    """N rows with every system column but the feature version (shared by all features)."""
    now = datetime.now(UTC)
    prov = pl.int_range(rows, eager=True).cast(pl.String).str.zfill(8).alias(PROVENANCE)
    return pl.DataFrame(
        {
            "sample_uid": pl.int_range(rows, eager=True),
            PROVENANCE_BY_FIELD: pl.DataFrame({"default": prov}).to_struct(),
            PROVENANCE: prov,
            DATA_VERSION_BY_FIELD: pl.DataFrame({"default": prov}).to_struct(),
            DATA_VERSION: prov,
        }
    ).with_columns(
        constant(PROJECT_VERSION, "p" * 8, rows),
        constant(MATERIALIZATION_ID, uuid.uuid4().hex, rows),
        pl.lit(now, TS).alias(CREATED_AT),
        pl.lit(now, TS).alias(UPDATED_AT),
        pl.lit(None, TS).alias(DELETED_AT),
    )


def constant(name: str, value: str, rows: int) -> pl.Series:
    """A materialized column of one value (``pl.lit`` would stay a scalar column that filters in O(1))."""
    return pl.Series(name, [value]).gather(pl.zeros(rows, dtype=pl.UInt32, eager=True))


def make_store(kind: str, tmp: Path) -> mx.MetadataStore:
    if kind == "memory":
        return mx.InMemoryMetadataStore(name="bench")
    if kind == "sqlite":
        return mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp / 'store.db'}", name="bench")  # type: ignore[attr-defined, no-any-return]
    if kind == "duckdb":
        return mx.DuckDBMetadataStore(str(tmp / "store.duckdb"), name="bench")  # type: ignore[attr-defined, no-any-return]
    raise SystemExit(f"unknown store {kind!r}")


def fill(
    store: mx.MetadataStore, catalogs: list[mx.MaterializationCatalog], features: int, rows: int
) -> list[str]:
    graph = mx.FeatureGraph.get_active()
    base = base_frame(rows)
    keys = []
    for i in range(features):
        key = f"bench/f{i:03d}"
        graph.add_feature(mx.FeatureSpec(key=key))
        frame = base.with_columns(constant(FEATURE_VERSION, graph.feature_version(key), rows))
        store._append(mx.FeatureKey(key), frame)  # straight to storage: the hashes are not what we time
        for catalog in catalogs:
            catalog.register_materialization(key, frame, store=store.name)
        keys.append(key)
    return keys


def median_us(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm up (connections, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def run(kind: str, features: int, rows: int, repeat: int, postgres_url: str | None) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmpdir, mx.FeatureGraph().use() as graph:
        tmp = Path(tmpdir)
        catalogs: dict[str, mx.MaterializationCatalog] = {
            "InMemoryCatalog": mx.InMemoryCatalog(),
            "SQLiteCatalog": mx.SQLiteCatalog(tmp / "catalog.db"),
        }
        if postgres_url:
            catalogs["PostgresCatalog"] = mx.PostgresCatalog(
                postgres_url, table=f"bench_{uuid.uuid4().hex[:8]}"
            )
        store = make_store(kind, tmp)
        with store:
            start = time.perf_counter()
            keys = fill(store, list(catalogs.values()), features, rows)
            built = time.perf_counter() - start
            hit = keys[features // 2]
            graph.add_feature(mx.FeatureSpec(key="bench/absent"))
            store._append(
                mx.FeatureKey("bench/absent"),
                base_frame(rows).with_columns(pl.lit("00000000").alias(FEATURE_VERSION)),
            )
            miss = "bench/absent"  # stored, but not at its current version: the probe finds nothing
            variants: dict[str, mx.MaterializationCatalog | None] = {"store probe": None, **catalogs}
            for name, catalog in variants.items():
                store.catalog = catalog
                hit_us = median_us(lambda: store.has_feature(hit), repeat)
                miss_us = median_us(lambda: store.has_feature(miss), repeat)
                assert store.has_feature(hit)
                assert not store.has_feature(miss)
                results.append(
                    {
                        "store": kind,
                        "features": features,
                        "rows": rows,
                        "via": name,
                        "hit_us": hit_us,
                        "miss_us": miss_us,
                        "build_s": built,
                    }
                )
        for catalog in catalogs.values():
            catalog.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stores", default="memory")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    rows = []
    for kind in args.stores.split(","):
        rows += run(kind, args.features, args.rows, args.repeat, args.postgres_url)
    table = pl.DataFrame(rows).with_columns(pl.col("hit_us", "miss_us", "build_s").round(1))
    with pl.Config(tbl_rows=50, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(table)


if __name__ == "__main__":
    main()
