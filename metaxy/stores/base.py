"""The ``MetadataStore`` contract: a few backend primitives under shared template methods.

A backend implements storage only (``_open_backend``, ``_close_backend``, ``_append``, ``_scan``,
``_delete_rows``, ``_list_keys``); everything else — validation, system columns, latest-row-wins reads,
soft deletes, fallback chains, versioning and increments — is shared. Backends that can do more
(run filters or whole resolutions in SQL) override ``_read_rows`` or provide a native engine.

This module holds the primitives, the hooks and the read/write/delete/copy template methods; the
class mixes in the rest, one job per module: opening and closing (``_lifecycle``), ``resolve_update``
(``_versioning``), the named API of :mod:`metaxy.ops` (``_ops_api``) and Metaxy 0.1.11's method
names (``_compat``).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, Unpack

import polars as pl

from metaxy.constants import CREATED_AT, DEFAULT_HASH_ALGORITHM, DEFAULT_HASH_TRUNCATION, SYSTEM_NAMESPACE
from metaxy.exceptions import StoreError
from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._chain import check_hash_settings, walk_chain
from metaxy.stores._clock import MonotonicClock
from metaxy.stores._compat import Metaxy011StoreAPI
from metaxy.stores._copy import copy_rows
from metaxy.stores._delete import hard_delete, soft_delete
from metaxy.stores._digest import NO_SAMPLES, stored_digest
from metaxy.stores._empty import is_marked_empty, mark_empty
from metaxy.stores._failures import ERRORS_SCHEMA, error_rows, errors_key, read_errors
from metaxy.stores._lifecycle import StoreLifecycle
from metaxy.stores._logging import OperationLog, logged
from metaxy.stores._lookup import lookup
from metaxy.stores._maintenance import StoreMaintenance
from metaxy.stores._ops_api import StoreOperationsAPI
from metaxy.stores._partition_api import StorePartitionsAPI
from metaxy.stores._query import run_sql
from metaxy.stores._read import (
    Filters,
    ReadRequest,
    as_filters,
    check_filter_columns,
    matching_rows,
    read_first,
    read_scanned,
    select_columns,
)
from metaxy.stores._resolve import check_engine_choice, check_native_engine
from metaxy.stores._samples import samples_filter
from metaxy.stores._shard import ShardSpec, check_sharded, with_shard
from metaxy.stores._types import EngineChoice, StoreOptions
from metaxy.stores._versioning import StoreVersioning
from metaxy.stores._write import conform_append, prepare_write
from metaxy.stores.schema_rule import DType, common_leaf, map_leaves
from metaxy.versioning.digest import DigestSums, digest_sums
from metaxy.versioning.frames import FrameLike, to_polars
from metaxy.versioning.hashing import HashAlgorithm, HashSettings
from metaxy.versioning.increment import Increment

if TYPE_CHECKING:
    from metaxy.stores._ranges import IdBounds
    from metaxy.stores.catalog_protocol import CatalogLike

__all__ = [
    "EngineChoice",
    "FeatureLike",
    "Filters",
    "FrameLike",
    "MetadataStore",
    "ReadRequest",
    "StoreOptions",
]


class MetadataStore(
    StoreLifecycle,
    StoreVersioning,
    StoreOperationsAPI,
    StorePartitionsAPI,
    StoreMaintenance,
    Metaxy011StoreAPI,
    ABC,
):
    """Append-only storage of feature metadata, with versioning and increments on top.

    Stores are context managers: ``with store: ...`` opens the store and its fallbacks (nesting is
    safe); using a closed store raises :class:`~metaxy.exceptions.StoreClosedError`.
    ``read_metadata`` returns a ``pl.LazyFrame``; ``resolve_update`` returns collected frames unless
    ``lazy=True``. With ``enable_logging=True`` every public call logs one line (feature, rows, size,
    duration) to the ``metaxy.stores`` logger at ``log_level``.
    """

    #: short name used in messages and configuration
    kind: str = "store"
    #: constructor options naming where the data lives; configuration resolves relative values
    #: against the project folder (see :func:`metaxy.config.paths.resolve_location`)
    path_options: ClassVar[tuple[str, ...]] = ()
    #: the longest column name (in UTF-8 bytes) the backend keeps without truncating it
    max_column_name_bytes: int | None = None
    #: whether column names must be plain (no quotes, backslashes, control characters): the backend
    #: writes them into SQL text
    requires_plain_column_names: ClassVar[bool] = False
    #: a resolution whose largest table holds more rows than this is run one range of ids after the
    #: other (see :mod:`metaxy.stores._ranges`); None always reads everything at once
    resolve_batch_rows: int | None = None

    def __init__(
        self,
        *,
        fallback_stores: Sequence[MetadataStore] | None = None,
        catalog: CatalogLike | None = None,
        hash_algorithm: HashAlgorithm | str = DEFAULT_HASH_ALGORITHM,
        hash_truncation_length: int | None = DEFAULT_HASH_TRUNCATION,
        versioning_engine: EngineChoice = "auto",
        read_only: bool = False,
        name: str | None = None,
        enable_logging: bool = False,
        log_level: int | str = "INFO",
    ) -> None:
        self.hash_settings = HashSettings(hash_algorithm, hash_truncation_length)
        self.fallback_stores: list[MetadataStore] = list(fallback_stores or [])
        self.catalog = catalog
        self.read_only = read_only
        self.name = name or self.kind
        self._operation_log = OperationLog(enabled=enable_logging, level=log_level)
        self.versioning_engine: EngineChoice = check_engine_choice(versioning_engine)
        self._lock = threading.RLock()
        self._write_clock = MonotonicClock()
        check_hash_settings(self)
        check_native_engine(self)

    # -- backend primitives ---------------------------------------------------------------------

    @abstractmethod
    def _open_backend(self) -> None:
        """Connect or allocate; called when the first ``with`` is entered."""

    @abstractmethod
    def _close_backend(self) -> None:
        """Release everything ``_open_backend`` acquired."""

    @abstractmethod
    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        """Append rows atomically (all or nothing), creating the table when needed."""

    @abstractmethod
    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        """Every stored row of ``key`` (full history), or ``None`` if nothing was ever stored."""

    @abstractmethod
    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        """Physically remove stored rows matching ``predicate`` (all rows when ``None``)."""

    @abstractmethod
    def _list_keys(self) -> list[FeatureKey]:
        """Keys with stored rows."""

    # -- overridable hooks ----------------------------------------------------------------------

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        """The rows ``request`` asks for, or ``None`` if nothing of ``request.key`` was ever stored.

        Order: one feature version (if set), latest row per id, deleted samples dropped, then the
        filters. SQL stores override this to run the whole query in the database.
        """
        lf = self._scan(request.key)
        return None if lf is None else read_scanned(lf, request)

    def _id_bounds(self, key: FeatureKey, column: str) -> IdBounds | None:
        """The bounds of the integer id ``column`` of ``key``'s stored rows (``NO_ROWS`` before the
        first write), or None when this store cannot tell them cheaply or ``column`` is not an integer
        column without nulls. Only asked when ``resolve_batch_rows`` is set."""
        return None

    def _delete_keyed(self, key: FeatureKey, keys: pl.DataFrame) -> None:
        """Physically remove the stored rows whose values in ``keys``' columns equal a row of ``keys``.

        ``prune`` calls it with ids, feature version and ``metaxy_updated_at``; backends that can join
        against the keys natively override it.
        """
        self._delete_rows(key, matching_rows(keys))

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """Replace every stored row of ``key`` by ``frame``, whose columns and types become the table's.

        Used by schema migrations. Backends override it with one atomic step; this default deletes,
        then appends (a failure in between loses the rows).
        """
        self._delete_rows(key, None)
        self._append(key, frame)

    def _reclaim_space(self, key: FeatureKey) -> bool:
        """Give back the space of removed rows where the backend needs a step for it; whether it ran."""
        return False

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        """The type this backend holds ``dtype`` as (itself when exact), or why it cannot hold it."""
        return map_leaves(dtype, common_leaf)

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        """The column types of ``key``'s stored rows as they read back, or None before the first write."""
        lf = self._scan(key)
        return None if lf is None else lf.collect_schema()

    def supports_native_versioning(self) -> bool:
        """Whether this store can compute the configured hash inside its own engine."""
        return False

    def supports_concurrent_writers(self) -> bool:
        """Whether many processes may append at once, each with its own store object (Ray and Dask
        workers write directly); otherwise distributed writes go through one writer."""
        return False

    def is_in_process(self) -> bool:
        """Whether the data lives in this process's memory, out of reach of any other process."""
        return self.location == ":memory:"

    def _catalog_snapshot(self) -> AbstractContextManager[object]:
        """Where one read-only operation may take the catalog (which tables exist, their columns) as
        it first found it instead of asking again: a store whose lookups cost a round trip answers
        each once (default: no snapshot)."""
        return nullcontext()

    def reads_side_by_side(self) -> bool:
        """Whether two reads run at once, each on a core of its own that one read would leave idle:
        a resolution then reads the stored rows beside the upstream rows instead of after them."""
        return False

    def _resolve_native(
        self,
        plan: FeaturePlan,
        upstream_versions: Mapping[FeatureKey, str],
        filters: Sequence[pl.Expr],
        *,
        lazy: bool,
    ) -> Increment[Any] | None:  # pragma: no cover - overridden by SQL stores
        """The increment computed inside the store from the upstream rows it holds at these versions.

        ``None`` asks for the Polars engine instead. With ``lazy``, nothing may run until collected.
        """
        return None

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new, empty store of this class keeping its data under ``folder``, for tests and experiments.

        Every backend of the table provides one; the tests and the pytest plugin's
        ``metaxy_store_factory`` build their stores with it. ``options`` are the constructor's.

        Raises:
            StoreError: this class has no scratch form (build it with its constructor).
        """
        raise StoreError(
            f"{cls.__name__} has no scratch form.",
            hint=f"Build it with its constructor, e.g. {cls.__name__}(...) pointing at your own server.",
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the data lives: a path or URL (credentials hidden); ``":memory:"`` for in-process stores."""
        return ":memory:"

    def exists(self) -> bool:
        """Whether the store's location exists, checked without creating or connecting to anything.

        Local files and folders are checked; stores on a server or an object store answer ``True``
        (opening them reports connection errors).
        """
        return True

    def fallback_chain(self) -> list[MetadataStore]:
        """This store, then its fallbacks depth-first: the order reads fall through them."""
        return list(self._chain())

    # -- writing --------------------------------------------------------------------------------

    @logged("write_metadata")
    def write_metadata(self, feature: FeatureLike, df: FrameLike) -> None:
        """Append rows for ``feature``; system columns are added where missing.

        The frame needs the feature's id columns (non-null, unique within the write) and a
        ``metaxy_provenance_by_field`` struct (as returned by ``resolve_update``).
        """
        self.require_writable("write metadata")
        key, graph = resolve_feature(feature)
        plan = graph.plan(key)
        frame = self._prepare_write(plan, to_polars(df, where=self._where(key)), graph)
        self._write_prepared(plan, frame)

    @logged("write_errors")
    def write_errors(
        self, feature: FeatureLike, df: FrameLike, *, error: BaseException | None = None
    ) -> None:
        """Record that computing these samples of ``feature`` failed (append-only, beside the feature).

        ``df`` holds the failed samples as ``resolve_update`` returned them (their id columns and
        ``metaxy_provenance``, the provenance the computation was attempted for; without it the
        current one is used) and an ``error_type`` column, with optional ``error_message`` and
        ``error_traceback``; or pass ``error=`` the exception to fill all three. Until their
        provenance changes, such samples are in ``resolve_update(...).failed`` instead of
        ``new``/``stale``; writing them successfully clears the failure (docs/failures.md).

        Raises:
            SchemaError: a key column or the error is missing, or a sample is not a sample of the feature.
        """
        self.require_writable("write errors")
        key, graph = resolve_feature(feature)
        plan = graph.plan(key)
        rows = error_rows(self, plan, graph, to_polars(df, where=self._where(key)), error)
        if rows.height:
            target = errors_key(key)
            self._append(target, self._conform(target, rows))

    @logged("read_errors")
    def read_errors(self, feature: FeatureLike) -> pl.LazyFrame:
        """Every failed attempt recorded for ``feature`` in this store (not its fallbacks), oldest first.

        Columns: the sample keys, ``metaxy_provenance``, ``metaxy_feature_version``, ``error_type``,
        ``error_message``, ``error_traceback``, ``metaxy_created_at`` (when it was recorded).
        """
        self.require_open()
        key, _ = resolve_feature(feature)
        rows = read_errors(self, key)
        if rows is None:
            return pl.LazyFrame(schema=ERRORS_SCHEMA)
        return rows.sort(CREATED_AT)

    def _write_prepared(self, plan: FeaturePlan, frame: pl.DataFrame) -> None:
        self._append_registered(plan.key, frame)
        if frame.height == 0:  # materialized with no sample: downstream resolves to an empty increment
            mark_empty(self, plan.key, plan.feature_version)

    def _append_registered(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        frame = self._conform(key, frame)
        self._append(key, frame)
        if self.catalog is not None:  # only after the append succeeded: a failed write registers nothing
            self.catalog.register_materialization(key, frame, store=self.name)

    def _conform(self, key: FeatureKey, frame: pl.DataFrame) -> pl.DataFrame:
        """Apply the append-schema rule (:mod:`metaxy.stores.schema_rule`) before the backend sees rows."""
        return conform_append(
            frame,
            self._stored_schema(key),
            self._storage_type,
            max_name_bytes=self.max_column_name_bytes,
            plain_names=self.requires_plain_column_names,
            where=self._where(key),
        )

    def _prepare_write(self, plan: FeaturePlan, df: pl.DataFrame, graph: FeatureGraph) -> pl.DataFrame:
        """``df`` checked and completed with every system column, stamped with this store's clock."""
        now, where = self._now(), self._where(plan.key)
        return prepare_write(plan, df, graph, settings=self.hash_settings, now=now, where=where)

    def _now(self) -> datetime:
        """A UTC timestamp strictly greater than any this store handed out before."""
        return self._write_clock.now()

    # -- reading --------------------------------------------------------------------------------

    @logged("read_metadata")
    def read_metadata(
        self,
        feature: FeatureLike,
        *,
        filters: Filters = None,
        columns: Sequence[str] | None = None,
        feature_version: str | None = None,
        all_versions: bool = False,
        history: bool = False,
        include_deleted: bool = False,
        allow_fallback: bool = True,
        shard: ShardSpec = None,
    ) -> pl.LazyFrame:
        """The stored rows of ``feature`` as a ``pl.LazyFrame``.

        By default: rows of the feature's *current* feature version, latest row per id, soft-deleted
        samples dropped, then ``filters`` applied. ``feature_version=`` reads another version,
        ``all_versions=True`` any version, ``history=True`` every stored row (no latest-row-wins).
        Falls through to the first fallback store holding the feature unless ``allow_fallback=False``.
        ``shard=(i, n)`` keeps the samples of shard ``i`` of ``n`` (docs/distributed.md#shards).

        Raises:
            FeatureNotFoundError: nothing is stored for the feature in this store or its fallbacks.
            InvalidShardError: ``shard`` is not ``(i, n)`` with ``0 <= i < n``.
        """
        self.require_open()
        key, graph = resolve_feature(feature)
        version = None if all_versions or history else (feature_version or graph.feature_version(key))
        ids = graph.spec(key).id_columns
        exprs = with_shard(
            as_filters(filters, where=self._where(key)), shard, key, graph, where=self._where(key)
        )
        request = ReadRequest(
            key,
            tuple(ids),
            feature_version=version,
            latest=not history,
            include_deleted=include_deleted or history,
            filters=exprs,
        )
        lf = read_first(list(self._chain()) if allow_fallback else [self], request, graph.spec(key))
        check_sharded(lf, exprs, where=self._where(key))
        return lf if columns is None else select_columns(lf, columns, where=self._where(key))

    @logged("provenance_digest")
    def provenance_digest(self, feature: FeatureLike, *, filters: Filters = None) -> str:
        """An order-independent fingerprint of the feature's stored samples (32 hex digits).

        Computed over the rows ``read_metadata(feature, filters=filters)`` returns (current feature
        version, latest live row per id, through the fallback chain) from their ids, provenance and
        data version; SQL stores that can compute md5 do it in the database. Equal samples give equal
        digests in every store; re-writing them, in any order, keeps it. The recipe:
        :mod:`metaxy.versioning.digest`.

        Raises:
            FeatureNotFoundError: nothing is stored for the feature in this store or its fallbacks.
        """
        self.require_open()
        return stored_digest(self, feature, filters)

    @logged("lookup")
    def lookup(
        self, ids: Mapping[str, Any] | None = None, /, *, graph: FeatureGraph | None = None, **id_values: Any
    ) -> pl.DataFrame:
        """One sample across the graph: per feature, stored or not, current, stale and why, failed, orphaned.

        ``store.lookup(sample_uid=42)`` (or ``store.lookup({"sample_uid": 42})`` for id columns that
        are not Python names) returns one row per feature keyed by those ids and sample; the columns
        are :data:`metaxy.stores._lookup.LOOKUP_SCHEMA` (docs/failures.md#lookup). ``graph`` defaults to
        the active graph.

        Raises:
            VersioningError: no id given, or no feature has any of the given id columns.
        """
        self.require_open()
        return lookup(self, graph or FeatureGraph.get_active(), {**(ids or {}), **id_values})

    def _digest_sums(self, request: ReadRequest) -> DigestSums:
        """The digest aggregates over ``request``'s rows; SQL stores override this to run it natively."""
        rows = self._read_rows(request)
        return NO_SAMPLES if rows is None else digest_sums(rows, request.ids)

    def _stored_columns(self, key: FeatureKey) -> list[str] | None:
        """The stored columns of ``key`` (``None`` when nothing is stored); SQL stores ask the catalog."""
        lf = self._scan(key)
        return None if lf is None else lf.collect_schema().names()

    def _check_filters(self, key: FeatureKey, exprs: Sequence[pl.Expr]) -> None:
        """Refuse filters naming a column ``key``'s stored rows lack (nothing stored: nothing to check)."""
        if not exprs:
            return
        columns = self._stored_columns(key)
        if columns is not None:
            check_filter_columns(exprs, columns, where=self._where(key))

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        """Whether rows of ``key`` at ``feature_version`` (any when None) were ever stored here.

        Answered by the catalog when there is one; soft-deleted rows still count.
        """
        if self.catalog is not None:
            return self.catalog.has_feature(key, feature_version=feature_version, store=self.name)
        lf = self._read_rows(ReadRequest.history(key, feature_version))
        return lf is not None and lf.head(1).collect().height > 0

    def _is_materialized(self, key: FeatureKey, feature_version: str | None) -> bool:
        """Whether ``key`` was written here at ``feature_version``: stored rows, or an empty write."""
        return self._holds(key, feature_version) or is_marked_empty(self, key, feature_version)

    @logged("has_feature")
    def has_feature(self, feature: FeatureLike, *, check_fallback: bool = False) -> bool:
        """Whether rows of the feature's current version are stored here (or in a fallback)."""
        self.require_open()
        key, graph = resolve_feature(feature)
        version = graph.feature_version(key)
        return any(s._is_materialized(key, version) for s in (self._chain() if check_fallback else [self]))

    @logged("sql")
    def sql(self, query: str, *, graph: FeatureGraph | None = None) -> pl.DataFrame:
        """Run one read-only SQL statement over the stored metadata (through DuckDB) and return its rows.

        Each feature's latest rows (as ``read_metadata`` returns them, through the fallback chain) are
        a view named by its table name (``video/raw`` is ``video__raw``); ``history.<table>`` holds
        every stored row. ``graph`` defaults to the active graph. Needs ``metaxy[duckdb]``.

        Raises:
            QueryError: the query is not one ``SELECT``, names a feature with nothing stored, or fails.
        """
        self.require_open()
        return run_sql(self, query, graph or FeatureGraph.get_active())

    @logged("list_features")
    def list_features(self) -> list[FeatureKey]:
        """Keys with stored rows in this store (not its fallbacks)."""
        self.require_open()
        return sorted(k for k in self._list_keys() if k.parts[0] != SYSTEM_NAMESPACE)  # hide system tables

    # -- deleting and copying -------------------------------------------------------------------

    @logged("delete_metadata")
    def delete_metadata(
        self, feature: FeatureLike, *, filters: Filters = None, samples: Any = None, soft: bool = True
    ) -> int:
        """Delete samples; returns how many stored samples (soft) or rows (hard) were affected.

        Soft (default): appends tombstones, so reads hide the samples while history keeps them.
        Hard: physically removes every stored row (any version, history included) matching ``filters``
        (everything when neither ``filters`` nor ``samples`` is given).
        ``samples``: a frame of ids (e.g. ``resolve_update(...).orphaned``); only those samples are
        deleted. A frame with a subset of the id columns (an expansion's parent keys) matches every
        row with those values.
        """
        self.require_writable("delete metadata")
        key, graph = resolve_feature(feature)
        exprs = as_filters(filters, where=self._where(key))
        self._check_filters(key, exprs)  # before any row is touched: an unknown column must not match all
        if samples is not None:
            ids = graph.spec(key).id_columns
            chosen = samples_filter(samples, ids, stored=self._stored_schema(key), where=self._where(key))
            if chosen is None:
                return 0  # an empty id frame deletes nothing
            exprs = (*exprs, chosen)
        if soft:
            return soft_delete(self, key, graph.spec(key).id_columns, exprs)
        return hard_delete(self, key, exprs)

    def _count(self, key: FeatureKey) -> int:
        """How many rows of ``key`` are stored (history and tombstones included)."""
        lf = self._scan(key)
        return 0 if lf is None else int(lf.select(pl.len()).collect().item())

    @logged("copy_metadata")
    def copy_metadata(
        self,
        from_store: MetadataStore,
        features: Iterable[FeatureLike] | None = None,
        *,
        history: bool = False,
    ) -> dict[FeatureKey, int]:
        """Copy stored rows from ``from_store`` into this store; returns the rows appended per feature.

        By default each sample's latest live row is copied (whatever its feature version; soft-deleted
        samples are skipped); ``history=True`` copies every stored row, tombstones included (and so
        does a feature the active graph does not define). ``features`` defaults to every feature
        ``from_store`` holds. Rows keep their system columns, so a row this store already holds (same
        ids and system columns) is not appended again: copying twice appends nothing.

        Raises:
            StoreError: ``from_store`` is this store (the same object or the same location).
        """
        self.require_writable("copy metadata")
        from_store.require_open()
        return copy_rows(self, from_store, features, history=history)

    # -- helpers --------------------------------------------------------------------------------

    def _chain(self) -> list[MetadataStore]:
        """This store, then its fallbacks depth-first; a store met again on its own path is a cycle."""
        return walk_chain(self)

    def _fallbacks(self) -> Sequence[MetadataStore]:
        """The stores read after this one (wrappers answer with the wrapped store's)."""
        return self.fallback_stores

    def _where(self, key: FeatureKey) -> str:
        return f"{self.name}, feature {key.to_string()!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, hash={self.hash_settings.algorithm.value})"
