"""What ``prune`` and ``migrate_schema`` cost at scale, on DuckDB and Delta (local disk).

Each store gets one feature of N samples written in one append, then a rewrite of a fraction of
them (superseded rows, 20% by default). Timed, in order:

- ``prune --dry-run``: finding the superseded rows (reads ids, versions, timestamps);
- ``prune``: removing them and reclaiming space (DuckDB ``CHECKPOINT``, Delta optimize + vacuum);
- ``migrate-schema --dry-run``: reading every row and checking the casts;
- ``migrate-schema``: rewriting every row (add with a default, rename, checked cast Int64 -> Int32).

Each cell is one run's wall time and this process's CPU time (robust to a busy machine); ``bytes``
is the store's size on disk after the step.

    python benchmarks/retention.py                       # 1M samples, duckdb and delta
    python benchmarks/retention.py --rows 100000 --stores duckdb
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import polars as pl

import metaxy as mx
from benchmarks.measure import cpu_seconds

KEY = "bench/retention"


def define_feature() -> type[mx.Feature]:
    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(key=KEY, fields=[mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")]),
    ):
        path: str
        size: int

    return Clip


def samples(ids: np.ndarray, *, version: str) -> pl.DataFrame:
    frame = pl.DataFrame({"sample_uid": ids})
    text = pl.col("sample_uid").cast(pl.String)
    return frame.with_columns(
        path=pl.lit("s3://bucket/clips/") + text + pl.lit(".mp4"),
        size=(pl.col("sample_uid") * 7 % 100_000).cast(pl.Int64),
        metaxy_provenance_by_field=pl.struct(
            audio=pl.lit(f"a{version}") + text, frames=pl.lit(f"f{version}") + text
        ),
    )


def open_store(kind: str, folder: Path) -> mx.MetadataStore:
    if kind == "duckdb":
        return mx.DuckDBMetadataStore(folder / "bench.duckdb")
    return mx.DeltaMetadataStore(folder / "delta")


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def timed(action: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = action()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def run_store(kind: str, rows: int, rewrite: float) -> list[dict[str, Any]]:
    clip = define_feature()
    migration = mx.SchemaMigration(
        add={"lang": pl.String}, defaults={"lang": "en"}, rename={"path": "uri"}, cast={"size": pl.Int32}
    )
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, open_store(kind, Path(tmp)) as store:
        folder = Path(tmp)
        store.write_metadata(clip, samples(np.arange(rows, dtype=np.int64), version="1"))
        rewritten = np.arange(0, rows, int(1 / rewrite), dtype=np.int64)
        store.write_metadata(clip, samples(rewritten, version="2"))
        steps: list[tuple[str, Callable[[], Any], Callable[[Any], int]]] = [
            ("prune --dry-run", lambda: store.prune(clip, dry_run=True), lambda r: r.pruned),
            ("prune", lambda: store.prune(clip), lambda r: r.pruned),
            (
                "migrate-schema --dry-run",
                lambda: store.migrate_schema(clip, migration, dry_run=True),
                lambda r: r.rows,
            ),
            ("migrate-schema", lambda: store.migrate_schema(clip, migration), lambda r: r.rows),
        ]
        before = disk_bytes(folder)
        for name, action, count in steps:
            report, wall, cpu = timed(action)
            out.append(
                {
                    "store": kind,
                    "samples": rows,
                    "step": name,
                    "rows": count(report),
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "bytes_before": before,
                    "bytes_after": disk_bytes(folder),
                }
            )
            before = disk_bytes(folder)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rewrite", type=float, default=0.2, help="fraction of samples written twice")
    parser.add_argument("--stores", default="duckdb,delta")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for kind in args.stores.split(","):
        with mx.FeatureGraph().use():
            results.extend(run_store(kind.strip(), args.rows, args.rewrite))
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True):
        print(pl.DataFrame(results))


if __name__ == "__main__":
    main()
