"""``MetaxyDatasource``: one Ray read task per shard, each opening the store in its worker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import pyarrow as pa
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from metaxy.integrations._worker import FeatureRef, StoreRef, check_picklable, read_shard
from metaxy.stores._read import Filters, as_filters
from metaxy.versioning.shard import Shard


class MetaxyDatasource(Datasource):  # type: ignore[misc]
    """A feature's increment (``incremental=True``: new and stale samples, with a ``metaxy_status``
    column) or its stored rows, read by shards: one read task per shard.

    Args:
        feature: the feature class (importable by the workers) or its key (defined by the entrypoints).
        store: the store's name in ``metaxy.toml``, or a zero-argument factory returning a store.
        incremental: resolve the increment; ``False`` reads the stored rows (``read_metadata``).
        filters: Polars expressions, as for ``resolve_update`` / ``read_metadata``.
        columns: only these columns (plus ``metaxy_status`` when incremental).
        num_shards: how many read tasks; default: the parallelism Ray asks for (``override_num_blocks``,
            else two per CPU of the cluster).

    Raises:
        IntegrationError: the store or the filters cannot be sent to workers, or the store lives in one
            process's memory.
    """

    def __init__(
        self,
        feature: Any,
        store: Any,
        *,
        incremental: bool = True,
        filters: Filters = None,
        columns: Sequence[str] | None = None,
        num_shards: int | None = None,
    ) -> None:
        super().__init__()
        where = "MetaxyDatasource"
        self._feature = FeatureRef.of(feature, where=where)
        where = f"MetaxyDatasource({self._feature.key!r})"
        self._store = StoreRef.of(store, where=where)
        self._filters = as_filters(filters, where=where)
        check_picklable(self._filters, what="the filters", where=where)
        self._incremental = incremental
        self._columns = list(columns) if columns is not None else None
        self._num_shards = None if num_shards is None else Shard.coerce((0, num_shards), where=where).count

    def get_name(self) -> str:
        return f"Metaxy({self._feature.key})"

    def estimate_inmemory_data_size(self) -> int | None:
        # Unknown until resolved. Unknown (None) makes Ray ask for 200 read tasks and split their
        # output into 200 blocks, so 200 resolutions, then 200 tiny writes; a token size makes it
        # ask for two per CPU, which ``num_shards`` overrides.
        return 1

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        count = self._num_shards or max(1, parallelism)
        return [
            ReadTask(
                partial(
                    _read,
                    self._store,
                    self._feature,
                    Shard(i, count),
                    self._incremental,
                    self._filters,
                    self._columns,
                ),
                BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None),
                per_task_row_limit=per_task_row_limit,
            )
            for i in range(count)
        ]


def _read(
    store: StoreRef,
    feature: FeatureRef,
    shard: Shard,
    incremental: bool,
    filters: Sequence[Any],
    columns: Sequence[str] | None,
) -> Iterable[pa.Table]:
    frame = read_shard(store, feature, shard, incremental=incremental, filters=filters, columns=columns)
    return [frame.to_arrow()]
