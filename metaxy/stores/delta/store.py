"""``DeltaMetadataStore``: one Delta Lake table per feature, on local disk or an object store.

Writes go through ``deltalake`` (one Delta commit per append), reads through ``pl.scan_delta`` so
Polars pushes filters and projections into the Parquet scan. Listing features uses fsspec, the one
thing deltalake cannot do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self, Unpack

import polars as pl

from metaxy.constants import FEATURE_VERSION, PREFIX, SYSTEM_NAMESPACE
from metaxy.exceptions import MetaxyError, SchemaError, StoreBackendError
from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._drivers import import_driver
from metaxy.stores._errors import backend_error, first_line
from metaxy.stores._layout import normalize_stored
from metaxy.stores._object_fs import list_delta_tables, object_root_exists
from metaxy.stores._partitioning import (
    Partitioning,
    check_no_moves,
    is_shard_column,
    parse_overrides,
    partitioning_for,
    prunable,
    with_shard_column,
)
from metaxy.stores._read import ReadRequest, all_of, as_filters, read_scanned
from metaxy.stores._shard import ShardSpec, with_shard
from metaxy.stores.base import MetadataStore, StoreOptions
from metaxy.stores.delta.log import LoadedTable, commit_hooks
from metaxy.stores.delta.schema import identity_columns, storage_type, widened_columns
from metaxy.stores.schema_rule import DType, cast_expr
from metaxy.versioning.lineage import versioning_keys

TABLE_SUFFIX = ".delta"
#: attempts of an append whose commit loses a race deltalake does not resolve (creating the table,
#: a concurrent metadata change)
_COMMIT_ATTEMPTS = 5


class DeltaMetadataStore(MetadataStore):
    """Feature metadata in Delta Lake tables at ``<table_uri>/<part1>/<part2>.delta``.

    Args:
        table_uri: root of the tables: a local path, ``file://...`` or an object-store URI such as
            ``s3://bucket/prefix``.
        partition_cols: columns new tables are partitioned by, outermost first (existing tables keep
            theirs), e.g. ``["dataset", "year", "month", "day"]``.
        time_partitioning: ``(column, grain)``: the time levels ``year``, ``month``, ``day``, ``hour``
            (down to ``grain``) are derived from a timestamp column at write time and partition the
            table, in their place in ``partition_cols`` or after it.
        shard_buckets: ``B``: partition by each sample's shard of ``B`` too (a derived column
            ``shard_B``), so that a read or resolution with ``shard=(i, n)``, ``n`` dividing ``B``,
            reads ``B / n`` of the shard partitions.
        partitioning: per-feature overrides, by feature key: ``{"video/raw": {"partition_cols":
            [...], "time_partitioning": (...)}}`` (``{}``: that feature's table is not partitioned).
        storage_options: object-store settings passed to deltalake (e.g. ``AWS_ENDPOINT_URL``,
            ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``).
        **store_kwargs: the options every store takes (``fallback_stores``, ``hash_algorithm``, ...).

    Schema evolution follows :mod:`metaxy.stores.schema_rule`: new columns and struct fields are merged
    into the table; a write that widens a stored column rewrites the table once with the wider type.

    Example:
        >>> import tempfile
        >>> import metaxy as mx
        >>> with mx.DeltaMetadataStore(tempfile.mkdtemp()) as store:
        ...     store.list_features()
        []
    """

    kind = "delta"
    path_options = ("table_uri",)

    def __init__(
        self,
        table_uri: str | Path,
        *,
        partition_cols: Sequence[str] | None = None,
        time_partitioning: tuple[str, str] | Sequence[str] | None = None,
        shard_buckets: int | None = None,
        partitioning: Mapping[str, Mapping[str, Any]] | None = None,
        storage_options: Mapping[str, str] | None = None,
        **store_kwargs: Unpack[StoreOptions],
    ) -> None:
        super().__init__(**store_kwargs)
        self.table_uri = _normalize_root(table_uri)
        self.partitioning = Partitioning.build(
            partition_cols, time_partitioning, shard_buckets, where=self.name
        )
        self.partitioning_overrides = parse_overrides(partitioning, where=self.name)
        self.partition_cols = list(self.partitioning.columns) if self.partitioning else None
        self.storage_options = dict(storage_options) if storage_options else None
        self._open_tables: dict[str, LoadedTable] = {}  # path -> table, kept current incrementally

    # -- paths ----------------------------------------------------------------------------------

    def table_path(self, key: FeatureKey) -> str:
        """Where the Delta table of ``key`` lives (``<table_uri>/video/raw.delta``)."""
        *dirs, last = key.parts
        return "/".join([self.table_uri, *dirs, last + TABLE_SUFFIX])

    # -- primitives -----------------------------------------------------------------------------

    def _open_backend(self) -> None:
        import_driver("deltalake", "delta")
        if "://" not in self.table_uri:
            _check_root(self.name, Path(self.table_uri), create=not self.read_only)

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new store with its Delta tables under ``folder/delta``."""
        return cls(Path(folder) / "delta", **options)

    @property
    def location(self) -> str:
        return self.table_uri

    def exists(self) -> bool:
        """Local: the root exists (a file in the way too: opening then says what is wrong with it).
        An object store: some object lies under the root (``True`` when it cannot be asked: opening
        then reports why)."""
        if "://" not in self.table_uri:
            return Path(self.table_uri).exists()
        return object_root_exists(self.table_uri, self.storage_options)

    def supports_concurrent_writers(self) -> bool:
        return True  # each append is one Delta commit; a lost commit race is retried

    def _close_backend(self) -> None:
        self._open_tables.clear()  # deltalake holds no connection, only the tables' log state

    def _table(self, key: FeatureKey) -> Any | None:
        """The ``DeltaTable`` of ``key`` at its latest version, or None when it was never created.

        A table stays loaded while the store is open; later calls read only the commits made since
        (``update_incremental``), and once a checkpoint was written the table is read again from it
        (:mod:`metaxy.stores.delta.log`), so the cost does not grow with the table's history.
        """
        path = self.table_path(key)
        with self._lock, _translated(self._where(key), "open"):
            loaded = self._open_tables.get(path)
            if loaded is not None:
                loaded.table.update_incremental()
                if not loaded.is_behind_checkpoint():
                    return loaded.table
            table = _load_table(path, self.storage_options)
            if table is not None:
                self._open_tables[path] = LoadedTable.of(table)
            return table

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        # from the loaded log, as ``pl.scan_delta`` reports it: no second read of the log per append
        table = self._table(key)
        if table is None:
            return None
        return normalize_stored(pl.LazyFrame(schema=pl.Schema(table.schema()))).collect_schema()

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        return storage_type(dtype)

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        with self._lock:
            for attempt in range(1, _COMMIT_ATTEMPTS + 1):
                table = self._table(key)
                stored = _schema(table)
                widened = widened_columns(df, stored)
                if widened:
                    assert table is not None
                    assert stored is not None
                    self._widen(table, stored, widened)
                    table = self._table(key)
                try:
                    self._commit(key, table, df)
                    return
                except StoreBackendError as exc:
                    # another writer created the table, or changed its metadata, first (deltalake
                    # retries plain append conflicts itself): reload the table and write again
                    if not exc.transient or attempt == _COMMIT_ATTEMPTS:
                        raise

    def _commit(self, key: FeatureKey, table: Any | None, frame: pl.DataFrame) -> None:
        if table is not None:
            append_table(table, frame)
            return
        layout = self.partitioning_of(key)
        partition_by = None
        if layout is not None:
            missing = [c for c in layout.columns if c not in frame.columns]
            if missing:
                raise SchemaError(
                    f"{self._where(key)}: partition column(s) {missing} are not in the written frame.",
                    hint="Use partition_cols that every write of this feature carries (e.g. an id column).",
                )
            partition_by = list(layout.columns)
        append_table(
            self.table_path(key), frame, partition_by=partition_by, storage_options=self.storage_options
        )

    def _widen(self, table: Any, stored: pl.Schema, widened: dict[str, pl.DataType]) -> None:
        """Rewrite the table with wider column types, in one commit (Delta cannot widen in place).

        Only a write that widens a stored column (e.g. Int32 rows, then Int64 ones) pays for this, once.
        """
        rows = pl.scan_delta(table.table_uri, version=table.version(), storage_options=self.storage_options)
        frame = rows.with_columns(
            cast_expr(name, pl.col(name), stored[name], dtype) for name, dtype in widened.items()
        ).collect()
        deltalake = import_driver("deltalake", "delta")
        with self._lock, _translated(table.table_uri, "widen"):
            deltalake.write_deltalake(
                table.table_uri,
                frame,
                mode="overwrite",
                schema_mode="overwrite",
                partition_by=table.metadata().partition_columns or None,
                storage_options=self.storage_options,
            )

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        table = self._table(key)
        return None if table is None else self._scan_table(table)

    def _scan_table(self, table: Any) -> pl.LazyFrame:
        # scan the version just resolved, so one read sees one snapshot
        lf = pl.scan_delta(table.table_uri, version=table.version(), storage_options=self.storage_options)
        return normalize_stored(lf)

    # -- partitions -----------------------------------------------------------------------------

    def partitioning_of(self, key: FeatureKey) -> Partitioning | None:
        """The layout new tables of ``key`` get: its override in ``partitioning``, else the store's
        (metaxy's own tables are never partitioned)."""
        if key.parts[0] == SYSTEM_NAMESPACE:
            return None
        return partitioning_for(key, self.partitioning, self.partitioning_overrides)

    def _conform(self, key: FeatureKey, frame: pl.DataFrame) -> pl.DataFrame:
        layout = self.partitioning_of(key)
        if layout is not None:
            frame = layout.derive(frame, where=self._where(key))
            graph = FeatureGraph.get_active()
            keys = versioning_keys(graph.plan(key)) if key in graph else ()
            frame = with_shard_column(frame, layout, keys)  # rows of an unknown feature: no shard
        return super()._conform(key, frame)

    def _derived_columns(self, key: FeatureKey, table: Any) -> list[str]:
        """The table's partition columns the store computes (time levels, shard): storage only."""
        layout = self.partitioning_of(key)
        levels = layout.time_levels if layout is not None else ()
        return [c for c in table.metadata().partition_columns if c in levels or is_shard_column(c)]

    def _write_prepared(self, plan: FeaturePlan, frame: pl.DataFrame) -> None:
        frame = with_shard_column(frame, self.partitioning_of(plan.key), versioning_keys(plan))
        table = self._table(plan.key)
        ids = plan.spec.id_columns
        movable = [c for c in _stable_partitions(table) if c not in ids and not is_shard_column(c)]
        if movable and table is not None:
            layout = self.partitioning_of(plan.key)
            written = frame if layout is None else layout.derive(frame, where=self._where(plan.key))
            stored = self._scan_table(table)
            check_no_moves(stored, written, plan.spec.id_columns, movable, where=self._where(plan.key))
        super()._write_prepared(plan, frame)

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        table = self._table(request.key)
        if table is None:
            return None
        lf = self._scan_table(table)
        skip = all_of(prunable((*request.filters, *request.prune), _stable_partitions(table)))
        if skip is not None:  # before latest-row-wins: Polars skips the partitions it excludes
            lf = lf.filter(skip)
        lf = read_scanned(lf, request)
        derived = self._derived_columns(request.key, table)
        return lf.drop(derived) if derived else lf

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        # answered from the Delta log when it can be (a probe that opens no data file, so a pruned
        # read opens only its partitions): per-file row counts, partition values and min/max stats
        table = None if self.catalog is not None else self._table(key)
        if table is None:
            return self.catalog is not None and super()._holds(key, feature_version)
        answer = holds_version(pl.DataFrame(table.get_add_actions(flatten=True)), feature_version)
        return super()._holds(key, feature_version) if answer is None else answer

    def partition_columns(self, feature: FeatureLike) -> list[str]:
        self.require_open()
        table = self._table(resolve_feature(feature)[0])
        return [] if table is None else list(table.metadata().partition_columns)

    def partition_files(
        self, feature: FeatureLike, *, filters: Any = None, shard: ShardSpec = None
    ) -> tuple[int, int]:
        """``(files read, files in the table)`` for a read of ``feature`` with ``filters`` and ``shard``.

        Counted from the Delta log: the data files of the partitions that the filters on partition
        columns select (:mod:`metaxy.stores._partitioning` says which filters prune), and all of
        them. ``(0, 0)`` before the first write.
        """
        self.require_open()
        key, graph = resolve_feature(feature)
        table = self._table(key)
        if table is None:
            return 0, 0
        where = self._where(key)
        exprs = with_shard(as_filters(filters, where=where), shard, key, graph, where=where)
        files = pl.DataFrame(table.get_add_actions(flatten=True))
        skip = all_of(prunable(exprs, _stable_partitions(table)))
        if skip is None:
            return files.height, files.height
        values = files.select(pl.col(f"partition.{c}").alias(c) for c in table.metadata().partition_columns)
        return values.filter(skip).height, files.height

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        table = self._table(key)
        if table is None:
            return
        with _translated(self._where(key), "delete"):
            if predicate is None:
                table.delete()
                return
            self._delete_matching(table, key, predicate)

    def _delete_matching(self, table: Any, key: FeatureKey, predicate: pl.Expr) -> None:
        """Delete the rows matching a Polars predicate as one Delta DML commit.

        deltalake's DELETE takes a SQL string, and a Polars expression has no faithful SQL
        rendering; so the matching rows are found with Polars and removed by a MERGE whose
        predicate only names columns (no value is ever formatted into SQL text).
        """
        lf = pl.scan_delta(table.table_uri, version=table.version(), storage_options=self.storage_options)
        schema = lf.collect_schema()
        on = identity_columns(schema)
        matched = lf.filter(predicate.fill_null(False)).select(on).unique().collect()
        if matched.height == 0:
            return
        condition = " AND ".join(f"(t.{_quote(c)} IS NOT DISTINCT FROM s.{_quote(c)})" for c in on)
        (
            table.merge(matched, predicate=condition, source_alias="s", target_alias="t")
            .when_matched_delete()
            .execute()
        )

    def _delete_keyed(self, key: FeatureKey, keys: pl.DataFrame) -> None:
        """One MERGE deleting the rows that match a key (a Delta DML commit, like any delete)."""
        table = self._table(key)
        if table is None or keys.height == 0:
            return
        condition = " AND ".join(f"(t.{_quote(c)} IS NOT DISTINCT FROM s.{_quote(c)})" for c in keys.columns)
        with self._lock, _translated(self._where(key), "delete"):
            merge = table.merge(keys, predicate=condition, source_alias="s", target_alias="t")
            merge.when_matched_delete().execute()

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """One overwrite commit with the new schema (readers see the old or the new table, never a mix)."""
        table = self._table(key)
        partitions = [] if table is None else table.metadata().partition_columns
        deltalake = import_driver("deltalake", "delta")
        with self._lock, _translated(self._where(key), "rewrite"):
            deltalake.write_deltalake(
                self.table_path(key),
                frame,
                mode="overwrite",
                schema_mode="overwrite",
                partition_by=[c for c in partitions if c in frame.columns] or None,
                storage_options=self.storage_options,
            )

    def _reclaim_space(self, key: FeatureKey) -> bool:
        """Compact the table's files, then vacuum every file no longer in the current version.

        The vacuum keeps no grace period: time travel to versions before the prune, and readers still
        scanning one, lose their files (docs/migrations.md, "Retention").
        """
        table = self._table(key)
        if table is None:
            return False
        with self._lock, _translated(self._where(key), "optimize and vacuum"):
            table.optimize.compact()
            table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        return True

    def _list_keys(self) -> list[FeatureKey]:
        with _translated(f"{self.name} ({self.table_uri})", "listing tables"):
            relative = list_delta_tables(self.table_uri, self.storage_options, suffix=TABLE_SUFFIX)
        keys = []
        for rel in relative:
            key = FeatureKey(rel[: -len(TABLE_SUFFIX)].split("/"))
            table = self._table(key)
            if table is not None and len(table.file_uris()) > 0:
                keys.append(key)
        return keys

    def __repr__(self) -> str:
        return f"DeltaMetadataStore({self.table_uri!r}, name={self.name!r})"


def _load_table(path: str, storage_options: Mapping[str, str] | None) -> Any | None:
    """The Delta table at ``path`` (its log read from the latest checkpoint on), or None."""
    deltalake = import_driver("deltalake", "delta")
    try:
        return deltalake.DeltaTable(path, storage_options=dict(storage_options) if storage_options else None)
    except deltalake.exceptions.TableNotFoundError:
        return None


def holds_version(files: pl.DataFrame, version: str | None) -> bool | None:
    """Whether the table whose data files (add actions) are ``files`` has rows at ``version`` (any
    when None), from the log alone; None when only reading the files can tell."""
    files = files.filter(pl.col("num_records").fill_null(1) > 0)
    if version is None or files.height == 0:
        return files.height > 0
    part, lo, hi = (f"{p}.{FEATURE_VERSION}" for p in ("partition", "min", "max"))
    if part in files.columns:
        return bool((files[part] == version).any())
    if lo not in files.columns or hi not in files.columns:
        return None
    if files.filter((pl.col(lo) == version) & (pl.col(hi) == version)).height:
        return True
    outside = (pl.col(lo) > version) | (pl.col(hi) < version)
    return None if files.filter(~outside.fill_null(False)).height else False


def _stable_partitions(table: Any | None) -> list[str]:
    """The table's partition columns a sample keeps (system columns excluded): the prunable ones."""
    if table is None:
        return []
    return [c for c in table.metadata().partition_columns if not c.startswith(PREFIX)]


def _schema(table: Any | None) -> pl.Schema | None:
    """The table's schema as Polars dtypes, from the loaded log (no second read of it)."""
    if table is None:
        return None
    import pyarrow as pa

    return pl.from_arrow(pa.schema(table.schema().to_arrow()).empty_table()).schema  # type: ignore[union-attr]


def append_table(
    target: Any,
    data: Any,
    *,
    partition_by: Sequence[str] | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> None:
    """Append ``data`` (anything exposing the Arrow stream interface) to a Delta table in one commit.

    ``target`` is a path (the table is created when missing) or a loaded ``DeltaTable``, which then
    commits from the state it holds (no reload of the log) and moves to the new version.
    Delta makes the rows visible only when the commit file lands, so a failure while the Parquet
    files are written leaves the table as it was.
    """
    deltalake = import_driver("deltalake", "delta")
    where = target if isinstance(target, str) else target.table_uri
    with _translated(where, "append"):
        deltalake.write_deltalake(
            target,
            data,
            mode="append",
            schema_mode="merge",
            partition_by=list(partition_by) if partition_by else None,
            storage_options=dict(storage_options) if storage_options else None,
            post_commithook_properties=commit_hooks(None if isinstance(target, str) else target),
        )


class _translated:
    """Turn deltalake's exceptions into ours, once, at the edge of the store."""

    def __init__(self, where: str, action: str) -> None:
        self.where = where
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or exc_type is None:
            return
        if isinstance(exc, MetaxyError) or not isinstance(exc, Exception):
            return
        if exc_type.__name__ == "SchemaMismatchError":
            raise SchemaError(
                f"{self.where}: Delta refused the {self.action}: {exc}",
                hint="Write columns with the dtypes already stored, or store the feature under a new key.",
            ) from exc
        # deltalake's errors, object-store I/O (OSError), fsspec/botocore connection errors
        raise backend_error(
            self.where,
            f"Delta {self.action}",
            exc,
            hint="Check the table URI, the bucket and storage_options; a CommitFailedError may be retried.",
        ) from exc


def _check_root(where: str, root: Path, *, create: bool) -> None:
    """A local root must be a directory (created when ``create``); say what is in the way when it is not."""
    blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        problem = "is a file" if blocker == root else f"is under {blocker}, which is a file"
        raise StoreBackendError(
            f"{where}: table_uri {root} {problem}, not a directory.",
            hint="Point table_uri at a directory (it is created when missing).",
        )
    if not create:
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreBackendError(
            f"{where}: cannot create the table_uri directory {root}: {first_line(exc)}",
            hint="Check that the parent directory exists and is writable, or choose another table_uri.",
        ) from exc


def _normalize_root(table_uri: str | Path) -> str:
    text = str(table_uri)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().absolute())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
