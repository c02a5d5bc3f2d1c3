"""What ``store.provenance_digest`` costs: in the database (one SQL aggregate) and in Polars.

For each size, one feature with that many samples (integer ids, 2 fields) is written to DuckDB and
to an in-memory store; the digest is timed on DuckDB natively, on DuckDB through the Polars path (the
same rows fetched, then hashed in Polars) and on the in-memory store (Polars). The three must agree.

    python benchmarks/digest.py                 # 100k and 1M samples
    python benchmarks/digest.py --sizes 10000 --repeat 5

Prints one table of median milliseconds per digest.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

import metaxy as mx
from metaxy.stores._read import ReadRequest
from metaxy.stores.base import MetadataStore


def define_feature() -> type[mx.Feature]:
    class Digested(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="bench/digest",
            fields=[mx.FieldSpec(key="a", code_version="1"), mx.FieldSpec(key="b", code_version="1")],
        ),
    ):
        pass

    return Digested


def samples(n: int) -> pl.DataFrame:
    ids = pl.int_range(0, n, eager=True, dtype=pl.Int64)
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "metaxy_provenance_by_field": pl.DataFrame(
                {"a": ids.cast(pl.String), "b": (ids * 7).cast(pl.String)}
            ).to_struct(),
        }
    )


def median_ms(fn: Callable[[], str], repeat: int) -> tuple[float, str]:
    times, result = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def measure(feature: type[mx.Feature], n: int, repeat: int) -> list[tuple[float, str]]:
    """(median ms, digest) on DuckDB in SQL, on DuckDB through Polars, and on the in-memory store."""
    frame = samples(n)
    request = ReadRequest(feature.key(), ("sample_uid",), feature_version=feature.feature_version())
    with tempfile.TemporaryDirectory() as folder:
        duck = mx.DuckDBMetadataStore(Path(folder) / "bench.duckdb")
        memory = mx.InMemoryMetadataStore()
        with duck, memory:
            duck.write_metadata(feature, frame)
            memory.write_metadata(feature, frame)
            return [
                median_ms(lambda: duck.provenance_digest(feature), repeat),
                median_ms(lambda: MetadataStore._digest_sums(duck, request).render(), repeat),
                median_ms(lambda: memory.provenance_digest(feature), repeat),
            ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    feature = define_feature()
    table = Table(title="provenance_digest, median ms")
    for column in ("samples", "DuckDB (SQL)", "DuckDB (Polars path)", "in-memory (Polars)", "agree"):
        table.add_column(column, justify="right")
    for n in (int(s) for s in args.sizes.split(",")):
        native, polars_path, in_memory = measure(feature, n, args.repeat)
        agree = len({native[1], polars_path[1], in_memory[1]}) == 1
        table.add_row(
            f"{n:,}", *(f"{r[0]:.0f}" for r in (native, polars_path, in_memory)), "yes" if agree else "NO"
        )
    Console().print(table)


if __name__ == "__main__":
    main()
