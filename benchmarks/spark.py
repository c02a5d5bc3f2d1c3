"""The Spark store beside DuckDB and the Polars engine: ``resolve_update`` on ``simple`` and ``wide``.

Cells are those of ``benchmarks/run.py`` (fresh store per round, roots seeded untimed, phases ``new``
and ``stale`` timed as open + resolve_update + collect + close). The Spark session is started once,
before any cell, and its start (time to first result: session start plus one tiny query) is reported
apart. Three Spark configurations answer the xxhash question: ``spark-xxhash-udf`` (metaxy's Arrow UDF
hashing in the executors), ``spark-xxhash-polars`` (the rows fetched to the driver, hashed by the
Polars engine) and ``spark-md5`` (Spark's built-in md5).

Usage:
    python benchmarks/spark.py                    # N = 1M, simple and wide, 1 round
    python benchmarks/spark.py --n 100000 --rounds 3 --store spark-md5 duckdb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import bench_cell, markdown
from benchmarks.stores import BY_NAME, StoreConfig
from benchmarks.workload import BUILDERS

SPARK: tuple[StoreConfig, ...] = (
    StoreConfig(
        "spark-xxhash-udf",
        "SparkMetadataStore",
        lambda d: {"warehouse": d / "spark", "versioning_engine": "native"},
    ),
    StoreConfig(
        "spark-xxhash-polars",
        "SparkMetadataStore",
        lambda d: {"warehouse": d / "spark", "versioning_engine": "polars"},
    ),
    StoreConfig(
        "spark-md5",
        "SparkMetadataStore",
        lambda d: {"warehouse": d / "spark", "versioning_engine": "native"},
        hash_algorithm="md5",
    ),
)
CONFIGS = {c.name: c for c in (*SPARK, BY_NAME["memory"], BY_NAME["duckdb"], BY_NAME["duckdb-native-md5"])}


#: the driver is the only executor in local mode; `spark-xxhash-polars` fetches whole upstream tables
#: to it (2M rows of four-field structs for 1M `wide`), which Spark's default 1g cannot hold
DRIVER_MEMORY = "6g"


def session_start() -> float:
    """Seconds from nothing to the first query's rows: JVM and session start, one tiny job."""
    from metaxy.stores.spark.session import local_session

    start = time.perf_counter()
    session = local_session("benchmark", "local[2]", {"spark.driver.memory": DRIVER_MEMORY})
    session.sql("SELECT 1 AS x").toArrow()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--graph", nargs="+", choices=[*BUILDERS], default=[*BUILDERS])
    p.add_argument("--store", nargs="+", choices=[*CONFIGS], default=[*CONFIGS])
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args(argv)
    print(f"Spark session start (time to first result): {session_start():.1f} s", flush=True)
    rows: list[dict[str, Any]] = []
    for n in args.n:
        for graph in args.graph:
            for name in args.store:
                for row in bench_cell(CONFIGS[name], graph, n, args.rounds):
                    rows.append(row)
                    print(
                        f"{name} {graph} N={n:,} {row['phase']}: {row['median_s']:.2f} s, ok={row['ok']}",
                        flush=True,
                    )
    print()
    print(markdown(rows))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
