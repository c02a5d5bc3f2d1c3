"""What the security wrappers cost: ``read_metadata`` and ``resolve_update`` with and without them.

Run: ``python benchmarks/wrappers.py`` (``BENCH_N`` samples, default 1000000; ``BENCH_BACKEND`` memory,
duckdb or delta). One string column (``path``) is encrypted; the secure store checks an admin role per
call, with and without an audit log (kept in an in-memory store). ``resolve_update`` resolves a
downstream feature whose increment carries the upstream's (encrypted) ``path``. Prints one row per case:
median milliseconds, and the overhead against the plain store.
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
from metaxy.stores.wrappers.audit import AuditLog
from metaxy.stores.wrappers.auth import Grant, Permission, RolesTable

N = int(os.environ.get("BENCH_N", "1000000"))
BACKEND = os.environ.get("BENCH_BACKEND", "memory")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


class Video(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="bench/video",
        fields=[mx.FieldSpec(key="audio", code_version="1"), mx.FieldSpec(key="frames", code_version="1")],
    ),
):
    path: str


class Transcript(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="bench/transcript",
        deps=[mx.FeatureDep(feature=Video)],
        fields=[
            mx.FieldSpec(key="text", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])])
        ],
    ),
):
    pass


def make_backend(root: Path) -> mx.MetadataStore:
    root.mkdir(parents=True, exist_ok=True)
    if BACKEND == "memory":
        return mx.InMemoryMetadataStore()
    if BACKEND == "duckdb":
        return mx.DuckDBMetadataStore(root / "metaxy.duckdb")
    return mx.DeltaMetadataStore(root / "delta")


def samples(n: int) -> pl.DataFrame:
    ids = pl.int_range(0, n, eager=True)
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "path": ("s3://bucket/videos/v" + ids.cast(pl.String) + ".mp4"),
            "metaxy_provenance_by_field": pl.DataFrame(
                {"audio": "a" + ids.cast(pl.String), "frames": "f" + ids.cast(pl.String)}
            ).to_struct(),
        }
    )


def median_ms(call: Callable[[], Any]) -> float:
    call()  # warm up (first-call imports and caches are not the wrapper's cost)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    roles = RolesTable({"admin": [Grant(Permission.ADMIN, "*")]}, {"bench": ["admin"]})
    with tempfile.TemporaryDirectory() as tmp:
        plain = make_backend(Path(tmp) / "plain")
        encrypted = mx.EncryptedMetadataStore(
            make_backend(Path(tmp) / "enc"), encryption_key=b"k" * 32, encrypted_columns=["path"]
        )
        stores: dict[str, mx.MetadataStore] = {
            "plain": plain,
            "secure (RBAC check per call)": mx.SecureMetadataStore(
                plain, auth_backend=roles, principal="bench"
            ),
            "secure + audit log": mx.SecureMetadataStore(
                plain, auth_backend=roles, principal="bench", audit=AuditLog(mx.InMemoryMetadataStore())
            ),
            "encrypted (1 string column)": encrypted,
        }
        frame = samples(N)
        writes = {}
        for name in ("plain", "encrypted (1 string column)"):
            with stores[name] as store:
                start = time.perf_counter()
                store.write_metadata(Video, frame)
                writes[name] = (time.perf_counter() - start) * 1000
        print(
            f"backend={BACKEND}  N={N}  repeats={REPEATS}  (write: plain {writes['plain']:.0f} ms, "
            f"encrypted {writes['encrypted (1 string column)']:.0f} ms)"
        )
        print(
            f"{'wrapper':30} {'read_metadata ms':>17} {'overhead':>9} {'resolve_update ms':>18} {'overhead':>9}"
        )
        base: tuple[float, float] | None = None
        for name, store in stores.items():
            with store:
                read = median_ms(lambda s=store: s.read_metadata(Video).collect())
                resolve = median_ms(lambda s=store: s.resolve_update(Transcript))
            base = base or (read, resolve)
            print(f"{name:30} {read:17.1f} {read / base[0]:8.2f}x {resolve:18.1f} {resolve / base[1]:8.2f}x")


if __name__ == "__main__":
    main()
