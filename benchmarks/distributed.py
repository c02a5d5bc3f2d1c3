"""Distributed resolve + write on the ``simple`` graph (video → transcript): Ray and Dask with 1 and 2
workers, on Delta and DuckDB, beside the single-process time, and the driver's peak RSS.

Each cell runs in a fresh process (so peak RSS is that cell's driver); the N videos are written
before, by the parent, and cluster start-up is not timed. A cell times: resolve the transcripts'
increment, add a text column, write it; then checks nothing is left to do.

    python benchmarks/distributed.py                    # N = 100k and 1M
    python benchmarks/distributed.py --sizes 100000 --engines single,ray --workers 2

Prints one table: seconds per cell and the driver's peak RSS in MiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

import metaxy as mx

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path, and this file would shadow Dask's
# ``distributed`` package.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "benchmarks":
    sys.path.pop(0)


def define() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="bench/video", fields=[mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")]
        ),
    ):
        pass

    class Transcript(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="bench/transcript",
            deps=[mx.FeatureDep(feature=Video)],
            fields=[mx.FieldSpec(key="text", deps=[mx.FieldDep(feature=Video, fields=["audio"])])],
        ),
    ):
        pass

    return Video, Transcript


def videos(n: int) -> pl.DataFrame:
    ids = pl.int_range(0, n, eager=True, dtype=pl.Int64)
    return pl.DataFrame({"sample_uid": ids}).with_columns(
        pl.struct(audio=pl.format("a{}", "sample_uid"), frames=pl.format("f{}", "sample_uid")).alias(
            "metaxy_provenance_by_field"
        ),
        path=pl.format("{}.mp4", "sample_uid"),
    )


def make_store(kind: str, root: Path) -> partial[mx.MetadataStore]:
    if kind == "delta":
        return partial(mx.DeltaMetadataStore, str(root / "delta"))
    return partial(mx.DuckDBMetadataStore, str(root / "meta.duckdb"))


def run_single(store: Any, transcript: Any, workers: int) -> int:
    with store() as opened:
        todo = opened.resolve_update(transcript).new.with_columns(text=pl.col("path"))
        opened.write_metadata(transcript, todo)
        return todo.height


def run_ray(store: Any, transcript: Any, workers: int) -> int:
    import ray

    from metaxy.integrations.ray import MetaxyDatasink, MetaxyDatasource

    source = MetaxyDatasource(transcript, store=store, num_shards=workers)
    sink = MetaxyDatasink(transcript, store=store)
    # batch_size=None: one batch per block read (a shard), so one append per block, not one per
    # 1024-row batch (each append is a Delta commit)
    ds = ray.data.read_datasource(source).map_batches(
        lambda b: b.append_column("text", b.column("path")), batch_format="pyarrow", batch_size=None
    )
    ds.write_datasink(sink)
    return sink.report.rows_written


def run_dask(store: Any, transcript: Any, workers: int) -> int:
    from metaxy.integrations.dask import DaskMetadataStore

    dask_store = DaskMetadataStore(store)
    new = dask_store.resolve_update(transcript, num_shards=workers).new
    return dask_store.write_metadata(transcript, new.assign(text=new["path"]))


RUNNERS = {"single": run_single, "ray": run_ray, "dask": run_dask}


def prepare(kind: str, root: Path, n: int) -> None:
    """Write the N videos (in the parent process: the measured driver never holds them)."""
    video, _ = define()
    with make_store(kind, root)() as opened:
        opened.write_metadata(video, videos(n))


def cell(engine: str, kind: str, workers: int, n: int, root: Path) -> dict[str, Any]:
    """One measurement, in this process: start the engine, time resolve + write, check the result."""
    _, transcript = define()
    store = make_store(kind, root)
    cluster = _start(engine, workers)
    try:
        started = time.perf_counter()
        rows = RUNNERS[engine](store, transcript, workers)
        seconds = time.perf_counter() - started
        # the driver's peak so far: the check below resolves in this process, as a single process would
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    finally:
        _stop(engine, cluster)
    with store() as opened:
        assert opened.resolve_update(transcript).is_empty
    assert rows == n
    return {"engine": engine, "store": kind, "workers": workers, "n": n, "seconds": seconds, "rss_mib": rss}


def _start(engine: str, workers: int) -> Any:
    if engine == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        return ray
    if engine == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster
    return None


def _stop(engine: str, cluster: Any) -> None:
    if engine == "ray":
        cluster.shutdown()
    elif engine == "dask":
        client, local = cluster
        client.close()
        local.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--stores", default="delta,duckdb")
    parser.add_argument("--engines", default="single,ray,dask")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        engine, kind, workers, n, root = args.cell.split(",")
        print(json.dumps(cell(engine, kind, int(workers), int(n), Path(root))))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for kind in args.stores.split(","):
            for engine in args.engines.split(","):
                for workers in [1] if engine == "single" else [int(w) for w in args.workers.split(",")]:
                    spec = f"{engine},{kind},{workers},{n}"
                    with tempfile.TemporaryDirectory(prefix="metaxy-bench-dist-") as tmp:
                        prepare(kind, Path(tmp), n)
                        done = subprocess.run(
                            [sys.executable, __file__, "--cell", f"{spec},{tmp}"],
                            capture_output=True,
                            text=True,
                            cwd=ROOT,
                        )
                    if done.returncode:
                        print(f"{spec}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                        continue
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                    print(f"{spec}: {rows[-1]['seconds']:.2f} s", file=sys.stderr)
    table = pl.DataFrame(rows).with_columns(pl.col("seconds").round(2), pl.col("rss_mib").round(0))
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(table)


if __name__ == "__main__":
    main()
