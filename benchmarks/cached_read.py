"""Does a hot read through ``CachedMetadataStore`` touch storage? Count backend reads and time them.

Run: ``python benchmarks/cached_read.py`` (``BENCH_N`` samples, default 100000; ``BENCH_BACKEND`` one of
memory, duckdb, delta when those stores are installed). Prints one table row per case: median
milliseconds per read, and calls per read of the backend's storage reads: ``_scan`` (the raw table) and
``_read_rows`` (the whole read, which SQL stores run in the database; the base version calls ``_scan``).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout's metaxy

import metaxy as mx
from metaxy.stores import LAZY_STORES

N = int(os.environ.get("BENCH_N", "100000"))
BACKEND = os.environ.get("BENCH_BACKEND", "memory")
REPEATS = 7


class Video(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="bench/video",
        fields=[mx.FieldSpec(key="audio", code_version="1"), mx.FieldSpec(key="frames", code_version="1")],
    ),
):
    path: str


def make_backend(root: Path) -> mx.MetadataStore:
    if BACKEND == "memory":
        return mx.InMemoryMetadataStore()
    name = {"duckdb": "DuckDBMetadataStore", "delta": "DeltaMetadataStore"}[BACKEND]
    if name not in LAZY_STORES:
        sys.exit(f"{name} is not available in this metaxy")
    location = root / ("metaxy.duckdb" if BACKEND == "duckdb" else "delta")
    return getattr(mx, name)(str(location))  # type: ignore[no-any-return]


def count_backend_reads(store: mx.MetadataStore) -> dict[str, int]:
    """Count calls of the store's storage reads by wrapping them on the instance."""
    counts = {"_scan": 0, "_read_rows": 0}
    for name in counts:
        original = getattr(store, name)

        def counted(
            *args: Any, _name: str = name, _original: Callable[..., Any] = original, **kwargs: Any
        ) -> Any:
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(store, name, counted)
    return counts


def samples(n: int, version: str) -> pl.DataFrame:
    ids = pl.int_range(0, n, eager=True).alias("sample_uid")
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "path": [f"v{i}.mp4" for i in range(n)],
            "metaxy_provenance_by_field": [{"audio": f"a{i}{version}", "frames": f"f{i}"} for i in range(n)],
        }
    )


def measure(read: Callable[[], pl.DataFrame], counts: dict[str, int]) -> tuple[float, float, float, int]:
    """Median ms per read, ``_scan`` and ``_read_rows`` calls per read, and the rows read.

    One read before measuring fills the cache, so "hot" cases measure hits only.
    """
    read()
    times, before, rows = [], dict(counts), 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        rows = read().height
        times.append((time.perf_counter() - start) * 1000)
    scans, reads = ((counts[k] - before[k]) / REPEATS for k in ("_scan", "_read_rows"))
    return statistics.median(times), scans, reads, rows


def cold(cached: mx.CachedMetadataStore) -> pl.DataFrame:
    cached.invalidate()
    return cached.read_metadata(Video).collect()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        backend = make_backend(Path(tmp))
        cached = mx.CachedMetadataStore(backend, cache_size=8)
        with cached:
            backend.write_metadata(Video, samples(N, "1"))
            backend.write_metadata(Video, samples(N // 10, "2"))  # 10% rewritten: latest-row-wins has work
            counts = count_backend_reads(backend)
            only_recent = pl.col("sample_uid") < N // 10
            cases: list[tuple[str, Callable[[], pl.DataFrame]]] = [
                ("direct (no cache)", lambda: backend.read_metadata(Video).collect()),
                ("cached, cold (invalidated each time)", lambda: cold(cached)),
                ("cached, hot", lambda: cached.read_metadata(Video).collect()),
                ("cached, hot, filtered", lambda: cached.read_metadata(Video, filters=only_recent).collect()),
            ]
            print(f"backend={BACKEND}  N={N}  repeats={REPEATS}")
            print(f"{'case':38} {'median ms':>10} {'_scan/read':>11} {'_read_rows/read':>16} {'rows':>8}")
            for label, read in cases:
                ms, scans, reads, rows = measure(read, counts)
                print(f"{label:38} {ms:10.2f} {scans:11.1f} {reads:16.1f} {rows:8d}")
            stats = cached.cache_stats()
            print(f"cache: hits={stats['hits']} misses={stats['misses']} hit_rate={stats['hit_rate']:.2f}")


if __name__ == "__main__":
    main()
