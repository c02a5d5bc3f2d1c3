"""``WrappedMetadataStore``: a store that delegates everything to another store, for wrappers to extend."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, TypeVar, overload

import polars as pl

from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._failures import RetryPolicy
from metaxy.stores._logging import logged
from metaxy.stores._prune import PruneReport
from metaxy.stores._schema_migration import SchemaMigration, SchemaMigrationReport
from metaxy.stores._shard import ShardSpec
from metaxy.stores.base import FeatureLike, Filters, FrameLike, MetadataStore, ReadRequest
from metaxy.versioning.increment import Increment

R = TypeVar("R")


class WrappedMetadataStore(MetadataStore):
    """Delegates every operation to ``store``; subclasses hook :meth:`_call` or single operations.

    The wrapper is a full :class:`MetadataStore`: it can be opened (opening the wrapped store), used as
    a fallback, copied from or into. Validation, fallbacks and the catalog stay the wrapped store's:
    public operations are forwarded as they are, backend primitives too.
    """

    kind = "wrapped"

    def __init__(
        self,
        store: MetadataStore,
        *,
        name: str | None = None,
        enable_logging: bool = False,
        log_level: int | str = "INFO",
    ) -> None:
        self.inner = store  # set first: the base constructor asks about native versioning
        super().__init__(
            hash_algorithm=store.hash_settings.algorithm,
            hash_truncation_length=store.hash_settings.truncation,
            versioning_engine=store.versioning_engine,
            read_only=store.read_only,
            name=name or store.name,
            enable_logging=enable_logging,
            log_level=log_level,
        )

    def _call(self, operation: str, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run one public operation of the wrapped store; subclasses add behaviour around it."""
        return method(*args, **kwargs)

    # -- public operations, forwarded through _call -----------------------------------------------

    @logged("write_metadata")
    def write_metadata(self, feature: FeatureLike, df: FrameLike) -> None:
        self._call("write_metadata", self.inner.write_metadata, feature, df)

    @logged("read_metadata")
    def read_metadata(self, feature: FeatureLike, **options: Any) -> pl.LazyFrame:
        """Read through the wrapped store; accepts every option of :meth:`MetadataStore.read_metadata`."""
        return self._call("read_metadata", self.inner.read_metadata, feature, **options)

    @logged("has_feature")
    def has_feature(self, feature: FeatureLike, *, check_fallback: bool = False) -> bool:
        return self._call("has_feature", self.inner.has_feature, feature, check_fallback=check_fallback)

    @logged("list_features")
    def list_features(self) -> list[FeatureKey]:
        return self._call("list_features", self.inner.list_features)

    @logged("delete_metadata")
    def delete_metadata(
        self, feature: FeatureLike, *, filters: Filters = None, samples: Any = None, soft: bool = True
    ) -> int:
        return self._call(
            "delete_metadata",
            self.inner.delete_metadata,
            feature,
            filters=filters,
            samples=samples,
            soft=soft,
        )

    @logged("copy_metadata")
    def copy_metadata(
        self,
        from_store: MetadataStore,
        features: Iterable[FeatureLike] | None = None,
        *,
        history: bool = False,
    ) -> dict[FeatureKey, int]:
        return self._call("copy_metadata", self.inner.copy_metadata, from_store, features, history=history)

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
        return self._call(
            "resolve_update",
            self.inner.resolve_update,
            feature,
            samples=samples,
            filters=filters,
            lazy=lazy,
            shard=shard,
            retry_failed=retry_failed,
            retry=retry,
            **legacy,
        )

    @logged("prune")
    def prune(self, feature: FeatureLike, **options: Any) -> PruneReport:
        """Prune through the wrapped store; accepts every option of :meth:`MetadataStore.prune`."""
        return self._call("prune", self.inner.prune, feature, **options)

    @logged("migrate_schema")
    def migrate_schema(
        self, feature: FeatureLike, migration: SchemaMigration, **options: Any
    ) -> SchemaMigrationReport:
        """Migrate through the wrapped store; accepts every option of :meth:`MetadataStore.migrate_schema`."""
        return self._call("migrate_schema", self.inner.migrate_schema, feature, migration, **options)

    def schema_migrations(self, feature: FeatureLike | None = None) -> pl.DataFrame:
        return self.inner.schema_migrations(feature)

    @logged("provenance_digest")
    def provenance_digest(self, feature: FeatureLike, *, filters: Filters = None) -> str:
        return self._call("provenance_digest", self.inner.provenance_digest, feature, filters=filters)

    @logged("calculate_and_write_data_versions")
    def calculate_and_write_data_versions(self, feature: FeatureLike, sample_df: FrameLike) -> pl.DataFrame:
        return self._call(
            "calculate_and_write_data_versions",
            self.inner.calculate_and_write_data_versions,
            feature,
            sample_df,
        )

    # -- backend primitives and hooks, forwarded (used when this store sits in a fallback chain) ------

    def partition_columns(self, feature: FeatureLike) -> list[str]:
        return self.inner.partition_columns(feature)

    def partition_files(
        self, feature: FeatureLike, *, filters: Any = None, shard: Any = None
    ) -> tuple[int, int] | None:
        return self.inner.partition_files(feature, filters=filters, shard=shard)

    def _open_backend(self) -> None:
        self.inner.open()

    def _close_backend(self) -> None:
        self.inner.close()

    @property
    def location(self) -> str:
        return self.inner.location

    def exists(self) -> bool:
        return self.inner.exists()

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        self.inner._append(key, df)

    def _conform(self, key: FeatureKey, frame: pl.DataFrame) -> pl.DataFrame:
        return self.inner._conform(key, frame)  # the wrapped backend's column names, types and schema

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        return self.inner._scan(key)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        self.inner._delete_rows(key, predicate)

    def _list_keys(self) -> list[FeatureKey]:
        return self.inner._list_keys()

    def _delete_keyed(self, key: FeatureKey, keys: pl.DataFrame) -> None:
        self.inner._delete_keyed(key, keys)

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        self.inner._replace_rows(key, frame)

    def _reclaim_space(self, key: FeatureKey) -> bool:
        return self.inner._reclaim_space(key)

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        return self.inner._read_rows(request)

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        return self.inner._holds(key, feature_version)

    def _stored_columns(self, key: FeatureKey) -> list[str] | None:
        return self.inner._stored_columns(key)

    def supports_native_versioning(self) -> bool:
        return self.inner.supports_native_versioning()

    def supports_concurrent_writers(self) -> bool:
        return self.inner.supports_concurrent_writers()

    def is_in_process(self) -> bool:
        return self.inner.is_in_process()

    def reads_side_by_side(self) -> bool:
        return self.inner.reads_side_by_side()

    def _catalog_snapshot(self) -> AbstractContextManager[object]:
        return self.inner._catalog_snapshot()

    def _resolve_native(
        self,
        plan: FeaturePlan,
        upstream_versions: Mapping[FeatureKey, str],
        filters: Sequence[pl.Expr],
        *,
        lazy: bool,
    ) -> Increment[Any] | None:
        return self.inner._resolve_native(plan, upstream_versions, filters, lazy=lazy)

    def _fallbacks(self) -> Sequence[MetadataStore]:
        return self.inner._fallbacks()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
