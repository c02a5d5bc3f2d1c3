"""What one ``write_metadata`` costs on Delta as the table's history grows (local disk and S3).

For each mark (table version 1, 100, 500, 1000 by default) the table is brought to that version with
plain deltalake commits, then the benchmark times appends through a ``DeltaMetadataStore``:

- **warm**: a store that is already open and has appended before (the steady state of a writer);
- **cold**: the first append of a freshly opened store (a new process, or a CLI call).

Each cell is the median over the timed appends of the wall time and of this process's CPU time (the
CPU time is robust to a busy machine). S3 runs against a moto server started on loopback by the
benchmark itself (``moto[server]``, a dev dependency); nothing leaves the machine. For S3 the table
also counts the HTTP requests one append makes, read from the server's request log: ``L`` listings
from an offset, ``F`` full listings of ``_delta_log/``, ``G`` GETs, ``P`` PUTs. Request counts are what a
real object store bills and waits for; moto's own listing time grows with the number of objects in
the bucket (it filters every key in Python), which real S3 does not.

    python benchmarks/delta_append.py                       # local and s3, marks 1,100,500,1000
    python benchmarks/delta_append.py --targets s3 --marks 1,100,500 --appends 5

Prints one table of median milliseconds per append.
"""

from __future__ import annotations

import argparse
import collections
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl

import metaxy as mx
from benchmarks.measure import cpu_seconds
from metaxy.stores.delta.store import append_table

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
    """Commits made the way the store makes them until the table is at ``version``."""
    from deltalake import DeltaTable

    table = DeltaTable(path, storage_options=options)
    while table.version() < version:
        append_table(table, template)
        if table.version() % 100 == 0:  # a long-lived table slows down; start again from the checkpoint
            table = DeltaTable(path, storage_options=options)


class RequestLog:
    """Counts the HTTP requests in a moto server's log (one werkzeug line per request)."""

    _LINE = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP')

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen = 0

    def _lines(self) -> list[str]:
        with open(self.path, encoding="utf-8", errors="replace") as log:
            return log.read().splitlines()

    def mark(self) -> None:
        self._seen = len(self._settled())

    def since_mark(self) -> collections.Counter[str]:
        """Requests logged since :meth:`mark`, by kind (L, F, G, P, other)."""
        lines = self._settled()
        counts: collections.Counter[str] = collections.Counter()
        for line in lines[self._seen :]:
            match = self._LINE.search(line)
            if match is None:
                continue
            method, target = match.groups()
            if "list-type=" in target:
                counts["L" if "start-after=" in target else "F"] += 1
            else:
                counts[method[0] if method in ("GET", "PUT") else "other"] += 1
        self._seen = len(lines)
        return counts

    def _settled(self) -> list[str]:
        """The log once the server has written every line of the requests already answered."""
        lines = self._lines()
        while True:
            time.sleep(0.05)  # the server logs a request just after answering it
            again = self._lines()
            if len(again) == len(lines):
                return again
            lines = again


def timed(action: Any) -> tuple[float, float]:
    """Wall and CPU milliseconds of ``action()``."""
    start, cpu = time.perf_counter(), cpu_seconds()
    action()
    return (time.perf_counter() - start) * 1000, (cpu_seconds() - cpu) * 1000


def requests_label(counts: list[collections.Counter[str]]) -> str:
    """The median request mix of one append, e.g. ``2L 0F 2G 2P``."""
    if not counts:
        return "-"
    kinds = ("L", "F", "G", "P")
    return " ".join(f"{statistics.median(c[k] for c in counts):g}{k}" for k in kinds)


def measure(
    uri: str,
    options: dict[str, str] | None,
    marks: list[int],
    appends: int,
    rows: int,
    log: RequestLog | None = None,
) -> list[dict[str, Any]]:
    """Median warm and cold append latency (ms) and S3 requests at each mark."""
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
                warm, warm_requests = [], []
                for _ in range(appends):
                    next_id += rows
                    if log:
                        log.mark()
                    warm.append(timed(lambda n=next_id: store.write_metadata(feature, frame(n, rows))))
                    if log:
                        warm_requests.append(log.since_mark())
                cold, cold_requests = [], []
                for _ in range(appends):
                    next_id += rows
                    fresh = mx.DeltaMetadataStore(uri, storage_options=options)
                    if log:
                        log.mark()
                    with fresh:
                        cold.append(
                            timed(lambda f=fresh, n=next_id: f.write_metadata(feature, frame(n, rows)))
                        )
                    if log:
                        cold_requests.append(log.since_mark())
                results.append(
                    {
                        "version": mark,
                        "warm_ms": statistics.median(w for w, _ in warm),
                        "warm_cpu_ms": statistics.median(c for _, c in warm),
                        "warm_requests": requests_label(warm_requests),
                        "cold_ms": statistics.median(w for w, _ in cold),
                        "cold_cpu_ms": statistics.median(c for _, c in cold),
                        "cold_requests": requests_label(cold_requests),
                    }
                )
                print(f"  {results[-1]}", file=sys.stderr, flush=True)
    return results


@contextmanager
def moto_server() -> Iterator[tuple[str, dict[str, str], RequestLog]]:
    """A moto S3 server on a free loopback port with one bucket; yields (uri, storage options, log)."""
    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_file = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log_file,
        stderr=log_file,
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
        yield "s3://bench/delta", options, RequestLog(log_file.name)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log_file.close()
        Path(log_file.name).unlink(missing_ok=True)


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
            with moto_server() as (uri, options, log):
                rows = measure(uri, options, marks, args.appends, args.rows, log)
        else:
            parser.error(f"unknown target {target!r}")
        table += [{"target": target, **row} for row in rows]
    print(
        f"{'target':<7}{'version':>8}{'warm ms':>9}{'cpu ms':>8}{'requests':>14}"
        f"{'cold ms':>9}{'cpu ms':>8}{'requests':>14}"
    )
    for row in table:
        print(
            f"{row['target']:<7}{row['version']:>8}{row['warm_ms']:>9.0f}{row['warm_cpu_ms']:>8.0f}"
            f"{row['warm_requests']:>14}{row['cold_ms']:>9.0f}{row['cold_cpu_ms']:>8.0f}{row['cold_requests']:>14}"
        )


if __name__ == "__main__":
    main()
