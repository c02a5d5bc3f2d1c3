"""``DaskMetadataStore``: increments as Dask DataFrames, and versioned writes of Dask DataFrames.

Partitions are pandas frames (Dask's own); each worker converts its partition to Polars, runs the same
code as a single process, and converts back. Stores without concurrent writers (a DuckDB file) are
written under one cluster-wide lock, so at most one worker appends at a time.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import polars as pl
import pyarrow as pa

from metaxy.integrations._worker import FeatureRef, StoreRef, retried, version_block, write_block
from metaxy.stores._read import Filters, as_filters
from metaxy.versioning.increment import Increment
from metaxy.versioning.shard import Shard

PARTS = ("new", "stale", "orphaned")


class DaskMetadataStore:
    """A store seen from a Dask job: every task builds its own copy of it from ``store``.

    Args:
        store: the store's name in ``metaxy.toml``, or a zero-argument factory returning a store.
    """

    def __init__(self, store: Any) -> None:
        self._store = StoreRef.of(store, where="DaskMetadataStore")
        self.concurrent = self._store.build().supports_concurrent_writers()
        self._lock_name = f"metaxy-writer-{uuid.uuid4().hex}"

    def resolve_update(
        self, feature: Any, *, num_shards: int | None = None, filters: Filters = None
    ) -> Increment[Any]:
        """The increment of ``feature`` as three Dask DataFrames of ``num_shards`` partitions each.

        Partition ``i`` of every part is shard ``i`` (docs/distributed.md#shards), resolved by one
        delayed task when computed. The frames' columns come from a lazy resolution on the driver
        (schemas only). ``num_shards`` defaults to the cluster's worker threads.
        """
        ref = FeatureRef.of(feature, where="DaskMetadataStore")
        exprs = as_filters(filters, where=f"DaskMetadataStore({ref.key!r})")
        count = Shard.coerce(
            (0, _threads() if num_shards is None else num_shards), where=f"DaskMetadataStore({ref.key!r})"
        ).count
        empty = _empty_increment(self._store, ref, exprs)
        shards = [
            dask.delayed(_resolve_shard)(self._store, ref, Shard(i, count), exprs) for i in range(count)
        ]
        frames = {
            part: dd.from_delayed([s[k] for s in shards], meta=getattr(empty, part), verify_meta=False)
            for k, part in enumerate(PARTS)
        }
        return Increment(frames["new"], frames["stale"], frames["orphaned"])

    def calculate_and_write_data_versions(self, feature: Any, dask_df: dd.DataFrame) -> dd.DataFrame:
        """Version each partition's samples in the workers, write them, and return what was written.

        The writes happen now (the returned frame is persisted); a partition is one atomic append.
        Root features' rows carry ``metaxy_provenance_by_field`` themselves.

        Raises:
            SchemaError: a sample has no upstream rows (its partition is not written).
        """
        ref = FeatureRef.of(feature, where="DaskMetadataStore")
        lock = None if self.concurrent else self._lock_name
        meta = _version_partition(dask_df._meta, self._store, ref, None, write=False)
        written = dask_df.map_partitions(_version_partition, self._store, ref, lock, write=True, meta=meta)
        written = written.persist()
        _wait(written)
        return written

    def write_metadata(self, feature: Any, dask_df: dd.DataFrame) -> int:
        """Append each partition (rows carrying their versions, as ``resolve_update`` returns them) as one
        write, now; returns the rows written. Single-writer stores are written under one cluster-wide lock.
        """
        ref = FeatureRef.of(feature, where="DaskMetadataStore")
        lock = None if self.concurrent else self._lock_name
        counts = dask_df.map_partitions(_write_partition, self._store, ref, lock, meta=("rows", "int64"))
        return int(counts.sum().compute())


def _resolve_shard(
    store_ref: StoreRef, ref: FeatureRef, shard: Shard, filters: tuple[pl.Expr, ...]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with ref.active(), store_ref.opened(read_only=True) as store:
        increment = retried(lambda: store.resolve_update(ref.key, filters=list(filters) or None, shard=shard))
    return _pandas(increment.new), _pandas(increment.stale), _pandas(increment.orphaned)


def _empty_increment(
    store_ref: StoreRef, ref: FeatureRef, filters: tuple[pl.Expr, ...]
) -> Increment[pd.DataFrame]:
    with ref.active(), store_ref.opened(read_only=True, where="driver") as store:
        lazy = store.resolve_update(ref.key, filters=list(filters) or None, lazy=True)
        parts = [_pandas(pl.DataFrame(schema=getattr(lazy, part).collect_schema())) for part in PARTS]
    return Increment(*parts)


def _version_partition(
    partition: pd.DataFrame, store_ref: StoreRef, ref: FeatureRef, lock: str | None, *, write: bool
) -> pd.DataFrame:
    frame = _polars(partition)
    with ref.active():
        with store_ref.opened(read_only=True) as store:
            versioned = version_block(store, ref.key, frame)
        if write and versioned.height:
            with _cluster_lock(lock), store_ref.opened() as store:
                write_block(store, ref.key, versioned)
    return _pandas(versioned)


def _write_partition(
    partition: pd.DataFrame, store_ref: StoreRef, ref: FeatureRef, lock: str | None
) -> pd.Series:
    frame = _polars(partition)
    if not frame.height:
        return pd.Series([0], dtype="int64")
    with ref.active(), _cluster_lock(lock), store_ref.opened() as store:
        return pd.Series([write_block(store, ref.key, frame)], dtype="int64")


def _pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """Arrow-backed pandas columns: structs stay structs (Dask turns object columns into strings)."""
    converted: pd.DataFrame = frame.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)
    return converted


def _polars(partition: pd.DataFrame) -> pl.DataFrame:
    frame = pl.from_arrow(pa.Table.from_pandas(partition, preserve_index=False))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _cluster_lock(name: str | None) -> AbstractContextManager[Any]:
    """One writer at a time across the cluster (stores without concurrent writers); else no lock."""
    if name is None:
        return nullcontext()
    from distributed import Lock

    lock: AbstractContextManager[Any] = Lock(name)
    return lock


def _threads() -> int:
    try:
        from distributed import default_client

        threads: dict[str, int] = default_client().nthreads()
        return max(1, sum(threads.values()))
    except (ImportError, ValueError):
        return 1


def _wait(frame: dd.DataFrame) -> None:
    try:
        from distributed import default_client, wait
    except ImportError:  # pragma: no cover - the local scheduler persisted synchronously
        return
    try:
        default_client()
    except ValueError:
        return
    wait(frame)
