"""The ``MetadataStore`` contract: a few backend primitives under shared template methods.

A backend implements storage only (``_open_backend``, ``_close_backend``, ``_append``, ``_scan``,
``_delete_rows``, ``_list_keys``); everything else — validation, system columns, latest-row-wins reads,
soft deletes, fallback chains, versioning and increments — is shared here. Backends that can do more
(run filters or whole resolutions in SQL) override ``_read_rows`` or provide a native engine.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, overload

import polars as pl

from metaxy.constants import (
    DEFAULT_HASH_ALGORITHM,
    DEFAULT_HASH_TRUNCATION,
    DELETED_AT,
    FEATURE_VERSION,
    SYSTEM_NAMESPACE,
    UPDATED_AT,
)
from metaxy.exceptions import (
    FallbackCycleError,
    HashSettingsMismatchError,
    ReadOnlyStoreError,
    SchemaError,
    StoreClosedError,
    VersioningError,
)
from metaxy.models.feature import FeatureLike
from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores import _compat
from metaxy.stores._compat import Metaxy011StoreAPI
from metaxy.stores._copy import copy_rows
from metaxy.stores._empty import forget_empty, is_marked_empty, mark_empty
from metaxy.stores._latest import latest_rows
from metaxy.stores._logging import OperationLog, logged
from metaxy.stores._read import Filters, ReadRequest, all_of, as_filters, check_filter_columns, read_first
from metaxy.stores._resolve import expected_samples, resolve_increment
from metaxy.stores._samples import samples_filter
from metaxy.stores._types import EngineChoice, StoreOptions
from metaxy.stores._write import attach_provenance, prepare_write
from metaxy.stores.schema_rule import (
    TIMESTAMP,
    DType,
    check_column_names,
    check_system_columns,
    common_leaf,
    conform,
    map_leaves,
    to_storage,
)
from metaxy.versioning.frames import FrameLike, to_polars
from metaxy.versioning.hashing import HashAlgorithm, HashSettings
from metaxy.versioning.increment import Increment

if TYPE_CHECKING:
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


class MetadataStore(Metaxy011StoreAPI, ABC):
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
        if versioning_engine not in ("auto", "native", "polars"):
            raise VersioningError(
                f"versioning_engine={versioning_engine!r} is not an engine.",
                hint="Use 'auto', 'native' or 'polars'.",
            )
        self.versioning_engine: EngineChoice = versioning_engine
        self._opened = 0
        self._lock = threading.RLock()
        self._last_ts = datetime.min.replace(tzinfo=UTC)
        self._check_chain()
        if versioning_engine == "native" and not self.supports_native_versioning():
            raise VersioningError(
                f"{self.name} cannot compute {self.hash_settings.algorithm.value} natively.",
                hint="Use versioning_engine='auto' or 'polars', or a hash algorithm the store supports.",
            )

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
        if lf is None:
            return None
        if request.feature_version is not None:
            lf = lf.filter(pl.col(FEATURE_VERSION) == request.feature_version)
        if request.latest:
            lf = latest_rows(lf, request.ids)
        if not request.include_deleted:
            lf = lf.filter(pl.col(DELETED_AT).is_null())
        for expr in request.filters:
            lf = lf.filter(expr)
        return lf

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

    # -- lifecycle ------------------------------------------------------------------------------

    @overload
    def open(self) -> Self: ...

    @overload
    def open(self, mode: str) -> AbstractContextManager[Self]: ...

    def open(self, mode: str | None = None) -> Self | AbstractContextManager[Self]:
        """Open the store and its fallbacks (``with store:`` does it for a block).

        ``open("r")`` / ``open("w")`` is Metaxy 0.1.x's ``with store.open(mode):``: a context manager
        that opens for the block only (read-only is the constructor's ``read_only=`` here).
        """
        if mode is not None:
            _compat.check_mode(mode)
            return _compat.opened(self)  # type: ignore[return-value]
        self._chain()  # a fallback list edited after construction may have made a cycle
        with self._lock:
            if self._opened == 0:
                self._open_backend()
            self._opened += 1
        for fallback in self.fallback_stores:
            fallback.open()
        return self

    def close(self) -> None:
        for fallback in self.fallback_stores:
            fallback.close()
        with self._lock:
            if self._opened == 0:
                return
            self._opened -= 1
            if self._opened == 0:
                self._close_backend()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._opened > 0

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

    def _require_open(self) -> None:
        if not self._opened:
            raise StoreClosedError(
                f"{self.name} is closed.",
                hint="Use the store inside `with store:` (or call store.open() first).",
            )

    def _require_writable(self, action: str) -> None:
        self._require_open()
        if self.read_only:
            raise ReadOnlyStoreError(
                f"Cannot {action}: {self.name} was opened read-only.",
                hint="Open a writable store (read_only=False) to change metadata.",
            )

    # -- writing --------------------------------------------------------------------------------

    @logged("write_metadata")
    def write_metadata(self, feature: FeatureLike, df: FrameLike) -> None:
        """Append rows for ``feature``; system columns are added where missing.

        The frame needs the feature's id columns (non-null, unique within the write) and a
        ``metaxy_provenance_by_field`` struct (as returned by ``resolve_update``).
        """
        self._require_writable("write metadata")
        key, graph = self._resolve_feature(feature)
        plan = graph.plan(key)
        frame = self._prepare_write(plan, to_polars(df, where=self._where(key)), graph)
        self._write_prepared(plan, frame)

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
        where = self._where(key)
        check_column_names(frame.columns, max_bytes=self.max_column_name_bytes, where=where)
        frame = to_storage(frame, self._storage_type, where=where)
        return conform(frame, self._stored_schema(key), where=where)

    def _prepare_write(self, plan: FeaturePlan, df: pl.DataFrame, graph: FeatureGraph) -> pl.DataFrame:
        where = self._where(plan.key)
        check_system_columns(df, where=where)
        return prepare_write(plan, df, graph, settings=self.hash_settings, now=self._now(), where=where)

    def _now(self) -> datetime:
        """A UTC timestamp strictly greater than any this store handed out before."""
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last_ts:
                now = self._last_ts + timedelta(microseconds=1)
            self._last_ts = now
            return now

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
    ) -> pl.LazyFrame:
        """The stored rows of ``feature`` as a ``pl.LazyFrame``.

        By default: rows of the feature's *current* feature version, latest row per id, soft-deleted
        samples dropped, then ``filters`` applied. ``feature_version=`` reads another version,
        ``all_versions=True`` any version, ``history=True`` every stored row (no latest-row-wins).
        Falls through to the first fallback store holding the feature unless ``allow_fallback=False``.

        Raises:
            FeatureNotFoundError: nothing is stored for the feature in this store or its fallbacks.
        """
        self._require_open()
        key, graph = self._resolve_feature(feature)
        version = None if all_versions or history else (feature_version or graph.feature_version(key))
        ids = graph.spec(key).id_columns
        request = ReadRequest(
            key,
            tuple(ids),
            feature_version=version,
            latest=not history,
            include_deleted=include_deleted or history,
            filters=as_filters(filters, where=self._where(key)),
        )
        lf = read_first(list(self._chain()) if allow_fallback else [self], request, graph.spec(key))
        return lf if columns is None else _select(lf, columns, where=self._where(key))

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
        self._require_open()
        key, graph = self._resolve_feature(feature)
        version = graph.feature_version(key)
        return any(s._is_materialized(key, version) for s in (self._chain() if check_fallback else [self]))

    @logged("list_features")
    def list_features(self) -> list[FeatureKey]:
        """Keys with stored rows in this store (not its fallbacks)."""
        self._require_open()
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
        self._require_writable("delete metadata")
        key, graph = self._resolve_feature(feature)
        exprs = as_filters(filters, where=self._where(key))
        self._check_filters(key, exprs)  # before any row is touched: an unknown column must not match all
        if samples is not None:
            chosen = samples_filter(samples, graph.spec(key).id_columns, where=self._where(key))
            if chosen is None:
                return 0  # an empty id frame deletes nothing
            exprs = (*exprs, chosen)
        if not soft:
            before = self._count(key)
            versions = self._stored_versions(key) if self.catalog is not None else set()
            self._delete_rows(key, all_of(exprs))
            if not exprs:
                forget_empty(self, key)
            if self.catalog is not None:  # versions with no row left must vanish from the catalog too
                gone = versions - self._stored_versions(key)
                self.catalog.forget_materialization(key, feature_versions=gone, store=self.name)
            return before - self._count(key)
        ids = graph.spec(key).id_columns
        latest = self._read_rows(ReadRequest(key, tuple(ids), filters=exprs))
        if latest is None:
            return 0
        now = self._now()
        tombstones = latest.with_columns(
            pl.lit(now, dtype=TIMESTAMP).alias(DELETED_AT), pl.lit(now, dtype=TIMESTAMP).alias(UPDATED_AT)
        ).collect()
        if tombstones.height:
            self._append(key, tombstones)
        return tombstones.height

    def _stored_versions(self, key: FeatureKey) -> set[str]:
        lf = self._scan(key)
        return set() if lf is None else set(lf.select(pl.col(FEATURE_VERSION).unique()).collect().to_series())

    def _count(self, key: FeatureKey) -> int:
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
        self._require_writable("copy metadata")
        from_store._require_open()
        return copy_rows(self, from_store, features, history=history)

    # -- versioning -----------------------------------------------------------------------------

    @overload
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = ...,
        filters: Filters = ...,
        lazy: Literal[False] = ...,
    ) -> Increment[pl.DataFrame]: ...

    @overload
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = ...,
        filters: Filters = ...,
        lazy: Literal[True],
    ) -> Increment[pl.LazyFrame]: ...

    @overload
    def resolve_update(
        self, feature: FeatureLike, *, samples: FrameLike | None = ..., filters: Filters = ..., lazy: bool
    ) -> Increment[Any]: ...

    @logged("resolve_update")
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = None,
        filters: Filters = None,
        lazy: bool = False,
        **legacy: Any,
    ) -> Increment[Any]:
        """Which samples of ``feature`` are new, stale or orphaned in this store.

        Upstream metadata is read through the fallback chain; stored rows of ``feature`` are read from
        this store only. Root features need ``samples=`` (ids plus ``metaxy_provenance_by_field``).

        Args:
            samples: the expected samples (required for root features; overrides upstream otherwise).
            filters: Polars expressions on the feature's sample columns restricting the increment.
            lazy: return lazy frames; nothing is computed until they are collected.
            legacy: Metaxy 0.1.x keywords, refused with the replacement named (docs/migrating.md).
        """
        _compat.check_resolve_arguments(legacy)
        self._require_open()
        key, graph = self._resolve_feature(feature)
        filters = _compat.target_filters(filters, key)
        _compat.refuse_narwhals(filters)
        return resolve_increment(
            self,
            graph.plan(key),
            graph,
            samples=samples,
            filters=as_filters(filters, where=self._where(key)),
            lazy=lazy,
        )

    @logged("calculate_and_write_data_versions")
    def calculate_and_write_data_versions(self, feature: FeatureLike, sample_df: FrameLike) -> pl.DataFrame:
        """Attach provenance computed from upstream to ``sample_df``, write it, return what was written.

        For root features ``sample_df`` must already carry ``metaxy_provenance_by_field``.
        """
        self._require_writable("write metadata")
        key, graph = self._resolve_feature(feature)
        plan = graph.plan(key)
        frame = to_polars(sample_df, where=self._where(key))
        if not plan.is_root:
            expected = expected_samples(self, plan, graph)
            frame = attach_provenance(plan, frame, expected, where=self._where(key))
        written = self._prepare_write(plan, frame, graph)
        self._write_prepared(plan, written)
        return written

    # -- the named API of the operations layer (metaxy.ops) --------------------------------------

    def require_open(self) -> None:
        """Raise :class:`~metaxy.exceptions.StoreClosedError` unless the store is open."""
        self._require_open()

    def require_writable(self, action: str) -> None:
        """Raise unless the store is open and writable; ``action`` ("migrate ...") goes in the message."""
        self._require_writable(action)

    def resolve_feature(self, feature: FeatureLike) -> tuple[FeatureKey, FeatureGraph]:
        """The key of ``feature`` and the graph defining it (a class's own graph, else the active one)."""
        return self._resolve_feature(feature)

    def read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        """Stored rows of this store (never its fallbacks) as ``request`` describes; ``None``: none ever."""
        self._require_open()
        return self._read_rows(request)

    def expected_samples(self, plan: FeaturePlan, graph: FeatureGraph) -> pl.LazyFrame:
        """The samples ``plan``'s upstream expects (read through the fallback chain), with provenance."""
        self._require_open()
        return expected_samples(self, plan, graph)

    def append_rows(self, plan: FeaturePlan, frame: pl.DataFrame, graph: FeatureGraph) -> None:
        """Append rows that carry their own versions (re-stamped by a migration, say).

        The write checks run and missing system columns are filled as in :meth:`write_metadata`;
        ``metaxy_updated_at`` is always this write's time. The catalog, if any, records the write.
        """
        self._require_writable("write metadata")
        self._append_registered(plan.key, self._prepare_write(plan, frame, graph))

    def read_system_table(self, key: FeatureKey) -> pl.LazyFrame | None:
        """Every row of a system table (``metaxy-system/...``: snapshots, ...); ``None`` when empty."""
        self._require_open()
        return self._scan(key)

    def append_system_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """Append rows to a system table as they are (no feature checks, no system columns added)."""
        self._require_writable(f"write the system table {key.to_string()!r}")
        self._append(key, frame)

    # -- helpers --------------------------------------------------------------------------------

    def _resolve_feature(self, feature: FeatureLike) -> tuple[FeatureKey, FeatureGraph]:
        graph_of, spec_of = getattr(feature, "graph", None), getattr(feature, "spec", None)
        if callable(graph_of) and callable(spec_of):  # a feature class: its own graph
            return spec_of().key, graph_of()
        graph = FeatureGraph.get_active()
        key = coerce_feature_key(feature)
        graph.spec(key)
        return key, graph

    def _chain(self) -> list[MetadataStore]:
        """This store, then its fallbacks depth-first; a store met again on its own path is a cycle."""
        return _walk_chain(self, ())

    def _fallbacks(self) -> Sequence[MetadataStore]:
        """The stores read after this one (wrappers answer with the wrapped store's)."""
        return self.fallback_stores

    def _check_chain(self) -> None:
        for store in self._chain():
            if store.hash_settings != self.hash_settings:
                raise HashSettingsMismatchError(
                    f"{self.name} uses {self.hash_settings} but its fallback {store.name} uses {store.hash_settings}.",
                    hint="Every store of a fallback chain must use the same hash_algorithm and hash_truncation_length.",
                )

    def _where(self, key: FeatureKey) -> str:
        return f"{self.name}, feature {key.to_string()!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, hash={self.hash_settings.algorithm.value})"


def _select(lf: pl.LazyFrame, columns: Sequence[str], *, where: str) -> pl.LazyFrame:
    """``lf`` narrowed to ``columns``, refusing names it does not have (instead of failing at collect)."""
    if isinstance(columns, str):
        columns = [columns]
    present = lf.collect_schema().names()
    unknown = [c for c in columns if c not in present]
    if unknown:
        raise SchemaError(
            f"{where}: column(s) {unknown} are not stored.",
            hint=f"Stored columns: {', '.join(present)}.",
        )
    return lf.select(columns)


def _walk_chain(store: MetadataStore, path: tuple[MetadataStore, ...]) -> list[MetadataStore]:
    if any(seen is store for seen in path):
        names = " -> ".join(s.name for s in (*path, store))
        raise FallbackCycleError(
            f"{store.name} is in its own fallback chain ({names}), so a read would never end.",
            hint="Remove the store from its fallback_stores (directly or through another store's).",
        )
    chain = [store]
    for fallback in store._fallbacks():
        chain.extend(_walk_chain(fallback, (*path, store)))
    return chain
