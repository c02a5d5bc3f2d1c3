"""The versioning operations every store offers: ``resolve_update`` (which samples to recompute) and
``calculate_and_write_data_versions``.

:class:`StoreVersioning` is mixed into :class:`~metaxy.stores.base.MetadataStore`; the resolution
itself is driven by :mod:`metaxy.stores._resolve`, the increments computed in :mod:`metaxy.versioning`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import polars as pl

from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores import _compat
from metaxy.stores._failures import RetryPolicy, with_failed
from metaxy.stores._logging import logged
from metaxy.stores._read import Filters, as_filters
from metaxy.stores._resolve import expected_samples, resolve_increment
from metaxy.stores._shard import ShardSpec, check_sharded, with_shard
from metaxy.stores._write import attach_provenance
from metaxy.versioning.frames import FrameLike, to_polars
from metaxy.versioning.increment import Increment

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


class StoreVersioning:
    """Increments and provenance computed from the upstream rows a store (and its fallbacks) hold."""

    if TYPE_CHECKING:  # provided by MetadataStore

        def require_open(self) -> None: ...
        def require_writable(self, action: str) -> None: ...
        def _where(self, key: FeatureKey) -> str: ...
        def _catalog_snapshot(self) -> AbstractContextManager[object]: ...
        def _prepare_write(
            self, plan: FeaturePlan, df: pl.DataFrame, graph: FeatureGraph
        ) -> pl.DataFrame: ...
        def _write_prepared(self, plan: FeaturePlan, frame: pl.DataFrame) -> None: ...

    @overload
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = ...,
        filters: Filters = ...,
        lazy: Literal[False] = ...,
        shard: ShardSpec = ...,
        retry_failed: bool = ...,
        retry: RetryPolicy | None = ...,
    ) -> Increment[pl.DataFrame]: ...

    @overload
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = ...,
        filters: Filters = ...,
        lazy: Literal[True],
        shard: ShardSpec = ...,
        retry_failed: bool = ...,
        retry: RetryPolicy | None = ...,
    ) -> Increment[pl.LazyFrame]: ...

    @overload
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = ...,
        filters: Filters = ...,
        lazy: bool,
        shard: ShardSpec = ...,
        retry_failed: bool = ...,
        retry: RetryPolicy | None = ...,
    ) -> Increment[Any]: ...

    @logged("resolve_update")
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = None,
        filters: Filters = None,
        lazy: bool = False,
        shard: ShardSpec = None,
        retry_failed: bool = False,
        retry: RetryPolicy | None = None,
        **legacy: Any,
    ) -> Increment[Any]:
        """Which samples of ``feature`` are new, stale, orphaned or failed in this store.

        Upstream metadata is read through the fallback chain; stored rows of ``feature`` are read from
        this store only. Root features need ``samples=`` (ids plus ``metaxy_provenance_by_field``).

        Args:
            samples: the expected samples (required for root features; overrides upstream otherwise).
            filters: Polars expressions on the feature's sample columns restricting the increment.
            lazy: return lazy frames; nothing is computed until they are collected.
            shard: ``(i, n)``: only the samples of shard ``i`` of ``n``, by a stable hash of the id
                columns (under expansion: of the lineage's ``on`` columns). The ``n`` shards' increments
                together are the whole increment, each sample in exactly one (docs/distributed.md#shards).
            retry_failed: put every failed sample (``write_errors``) back into ``new``/``stale``.
            retry: put back the failed samples this :class:`RetryPolicy` allows (max attempts,
                minimum age); the others stay in ``failed`` (docs/failures.md).
            legacy: Metaxy 0.1.x keywords, refused with the replacement named (docs/migrating.md).
        """
        _compat.check_resolve_arguments(legacy)
        self.require_open()
        key, graph = resolve_feature(feature)
        filters = _compat.target_filters(filters, key)
        _compat.refuse_narwhals(filters)
        where = self._where(key)
        exprs = with_shard(as_filters(filters, where=where), shard, key, graph, where=where)
        store = cast("MetadataStore", self)
        plan = graph.plan(key)
        with self._catalog_snapshot():
            increment = resolve_increment(store, plan, graph, samples=samples, filters=exprs, lazy=lazy)
            policy = RetryPolicy() if retry_failed else retry
            increment = with_failed(store, plan, increment, retry=policy, lazy=lazy)
        check_sharded(increment.new.lazy(), exprs, where=where)
        return increment

    @logged("calculate_and_write_data_versions")
    def calculate_and_write_data_versions(self, feature: FeatureLike, sample_df: FrameLike) -> pl.DataFrame:
        """Attach provenance computed from upstream to ``sample_df``, write it, return what was written.

        For root features ``sample_df`` must already carry ``metaxy_provenance_by_field``.
        """
        self.require_writable("write metadata")
        key, graph = resolve_feature(feature)
        plan = graph.plan(key)
        frame = to_polars(sample_df, where=self._where(key))
        if not plan.is_root:
            expected = expected_samples(cast("MetadataStore", self), plan, graph)
            frame = attach_provenance(plan, frame, expected, where=self._where(key))
        written = self._prepare_write(plan, frame, graph)
        self._write_prepared(plan, written)
        return written
