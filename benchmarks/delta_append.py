"""What one ``write_metadata`` costs on Delta as the table's history grows (local disk and S3).

For each mark (table version 1, 100, 500, 1000 by default) the table is brought to that version with
plain deltalake commits, then the benchmark times appends through a ``DeltaMetadataStore``:

- **warm**: a store that is already open and has appended before (the steady state of a writer);
- **cold**: the first append of a freshly opened store (a new process, or a CLI call).

S3 runs against a moto server started on loopback by the benchmark itself (``moto[server]``, a dev
dependency); nothing leaves the machine.

    python benchmarks/delta_append.py                       # local and s3, marks 1,100,500,1000
    python benchmarks/delta_append.py --targets s3 --marks 1,100,500 --appends 5

Prints one table of median milliseconds per append.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl

import metaxy as mx

KEY = "bench/append"


def define_feature() -> type[mx.Feature]:
    class Appended(
        mx.Feature,
        spec=mx.FeatureSpec(key=KEY, fields=[mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")]),
    ):
        path: str

    return Appended


def frame(first: int, rows: int) -> pl.DataFrame:
    ids = list(range(first, first + rows))
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "path": [f"v{i}.mp4" for i in ids],
            "metaxy_provenance_by_field": [{"audio": f"a{i}", "frames": f"f{i}"} for i in ids],
        }
    )


def fast_forward(path: str, options: dict[str, str] | None, template: pl.DataFrame, version: int) -> None:
    """Plain deltalake commits (from one loaded table) until the table is at ``version``."""
    from deltalake import DeltaTable, write_deltalake

    table = DeltaTable(path, storage_options=options)
    while table.version() < version:
        write_deltalake(table, template, mode="append", schema_mode="merge")


def timed(action: Any) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def measure(
    uri: str, options: dict[str, str] | None, marks: list[int], appends: int, rows: int
) -> list[dict[str, Any]]:
    """Median warm and cold append latency (ms) at each mark."""
    results = []
    with mx.FeatureGraph().use():
        feature = define_feature()
        next_id = 0
        with mx.DeltaMetadataStore(uri, storage_options=options) as store:
            store.write_metadata(feature, frame(next_id, rows))  # version 0
            path = store.table_path(mx.FeatureKey(KEY))
            template = pl.read_delta(path, storage_options=options)
            for mark in marks:
                fast_forward(path, options, template, mark - 1)
                store.write_metadata(feature, frame(next_id := next_id + rows, rows))  # catch up, untimed
                warm = [
                    timed(lambda n=next_id + (i + 1) * rows: store.write_metadata(feature, frame(n, rows)))
                    for i in range(appends)
                ]
                next_id += (appends + 1) * rows
                cold = []
                for i in range(appends):
                    fresh = mx.DeltaMetadataStore(uri, storage_options=options)
                    with fresh:
                        cold.append(
                            timed(
                                lambda f=fresh, n=next_id + i * rows: f.write_metadata(
                                    feature, frame(n, rows)
                                )
                            )
                        )
                next_id += appends * rows
                results.append(
                    {"version": mark, "warm_ms": statistics.median(warm), "cold_ms": statistics.median(cold)}
                )
                print(
                    f"  version {mark}: warm {results[-1]['warm_ms']:.0f} ms, cold {results[-1]['cold_ms']:.0f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return results


@contextmanager
def moto_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A moto S3 server on a free loopback port with one bucket; yields (bucket uri, storage options)."""
    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)  # the server is starting
        options = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        client.create_bucket(Bucket="bench")
        yield "s3://bench/delta", options
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="local,s3", help="comma-separated: local, s3")
    parser.add_argument("--marks", default="1,100,500,1000", help="table versions to time appends at")
    parser.add_argument("--appends", type=int, default=5, help="timed appends per mark (median)")
    parser.add_argument("--rows", type=int, default=10, help="rows per append")
    args = parser.parse_args()
    marks = sorted(int(m) for m in args.marks.split(","))
    table = []
    for target in args.targets.split(","):
        print(f"{target}:", file=sys.stderr, flush=True)
        if target == "local":
            with tempfile.TemporaryDirectory() as root:
                rows = measure(root, None, marks, args.appends, args.rows)
        elif target == "s3":
            with moto_server() as (uri, options):
                rows = measure(uri, options, marks, args.appends, args.rows)
        else:
            parser.error(f"unknown target {target!r}")
        table += [{"target": target, **row} for row in rows]
    print(f"{'target':<8}{'version':>9}{'warm ms':>10}{'cold ms':>10}")
    for row in table:
        print(f"{row['target']:<8}{row['version']:>9}{row['warm_ms']:>10.0f}{row['cold_ms']:>10.0f}")


if __name__ == "__main__":
    main()
