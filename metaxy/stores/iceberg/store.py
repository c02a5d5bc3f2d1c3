"""``IcebergMetadataStore``: one Apache Iceberg table per feature, through PyIceberg and any of its catalogs.

Writes are PyIceberg appends (one snapshot per append, committed optimistically: a commit that loses a
race is retried on the refreshed table); reads go through ``pl.scan_iceberg`` at the snapshot just
loaded, so Polars pushes filters into Iceberg's file planning. By default the catalog is PyIceberg's
SQL catalog on a SQLite file next to a local warehouse.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self, Unpack

import polars as pl

from metaxy.constants import FEATURE_VERSION, PREFIX, SYSTEM_NAMESPACE
from metaxy.exceptions import (
    ConfigError,
    MetaxyError,
    SchemaError,
    SchemaMigrationError,
    StoreBackendError,
    TableNameCollisionError,
)
from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._drivers import import_driver
from metaxy.stores._errors import backend_error
from metaxy.stores._layout import normalize_stored
from metaxy.stores._naming import keys_from_tables
from metaxy.stores._object_fs import object_root_exists
from metaxy.stores._partitioning import check_no_moves, prunable
from metaxy.stores._read import ReadRequest, all_of, as_filters, read_scanned
from metaxy.stores.base import MetadataStore, StoreOptions
from metaxy.stores.iceberg.schema import (
    PartitionField,
    iceberg_filter,
    null_struct_list,
    parse_partition_by,
    storage_type,
)
from metaxy.stores.schema_rule import DType

#: attempts of an append whose commit loses a race (another writer committed first)
_COMMIT_ATTEMPTS = 8
#: the table property naming the feature key a table belongs to
KEY_PROPERTY = "metaxy.feature-key"
#: object-store options (as for Delta) -> PyIceberg FileIO properties
_S3_PROPERTIES = {
    "AWS_ENDPOINT_URL": "s3.endpoint",
    "AWS_REGION": "s3.region",
    "AWS_ACCESS_KEY_ID": "s3.access-key-id",
    "AWS_SECRET_ACCESS_KEY": "s3.secret-access-key",
}


class IcebergMetadataStore(MetadataStore):
    """Feature metadata in Iceberg tables ``<namespace>.<part1>__<part2>`` of a PyIceberg catalog.

    Args:
        warehouse: where the tables' files live: a local folder or ``s3://bucket/prefix``.
        catalog_properties: PyIceberg catalog properties (``{"type": "rest", "uri": ...}``, Glue, Hive, SQL on
            PostgreSQL, ...); default: the SQL catalog on ``catalog_uri``. (``catalog=`` is the
            materialization catalog every store takes.)
        catalog_uri: the default SQL catalog's database; default ``sqlite:///<warehouse>/catalog.db``
            for a local warehouse (an object-store warehouse needs one, or ``catalog_properties``).
        namespace: the catalog namespace holding the tables.
        catalog_name: the catalog's name (the SQL catalog keeps it with every table).
        partition_by: the partition spec of new tables: columns and transforms, outermost first,
            e.g. ``["dataset", "day(captured_at)", "bucket(16, sample_uid)"]``.
        partitioning: per-feature specs by feature key: ``{"video/raw": {"partition_by": [...]}}``.
        storage_options: object-store settings as for Delta (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
            ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), used for reading and writing files.
        **store_kwargs: the options every store takes.

    Example:
        >>> import tempfile
        >>> import metaxy as mx
        >>> with mx.IcebergMetadataStore(tempfile.mkdtemp()) as store:
        ...     store.list_features()
        []
    """

    kind = "iceberg"
    path_options = ("warehouse",)

    def __init__(
        self,
        warehouse: str | Path,
        *,
        catalog_properties: Mapping[str, Any] | None = None,
        catalog_uri: str | None = None,
        namespace: str = "metaxy",
        catalog_name: str = "metaxy",
        partition_by: Sequence[str] | None = None,
        partitioning: Mapping[str, Mapping[str, Any]] | None = None,
        storage_options: Mapping[str, str] | None = None,
        **store_kwargs: Unpack[StoreOptions],
    ) -> None:
        super().__init__(**store_kwargs)
        self.warehouse = _normalize_root(warehouse)
        self.namespace = namespace
        self.catalog_name = catalog_name
        self.storage_options = dict(storage_options) if storage_options else None
        self.partition_by = parse_partition_by(partition_by, where=self.name)
        self.partitioning_overrides = _parse_overrides(partitioning, where=self.name)
        self._catalog_properties = self._catalog_settings(catalog_properties, catalog_uri)
        self._catalog: Any = None

    def _catalog_settings(self, catalog: Mapping[str, Any] | None, catalog_uri: str | None) -> dict[str, Any]:
        properties: dict[str, Any] = {"warehouse": self._warehouse_uri()}
        for option, prop in _S3_PROPERTIES.items():
            if self.storage_options and option in self.storage_options:
                properties[prop] = self.storage_options[option]
        if catalog is not None:
            return {**properties, **dict(catalog)}
        if catalog_uri is None:
            if "://" in self.warehouse:
                raise ConfigError(
                    f"{self.name}: an object-store warehouse ({self.warehouse}) needs a catalog.",
                    hint="Pass catalog_uri='sqlite:////path/catalog.db' (or a PostgreSQL URL), or "
                    "catalog_properties={...} with the properties of any PyIceberg catalog.",
                )
            catalog_uri = f"sqlite:///{Path(self.warehouse) / 'catalog.db'}"
        return {**properties, "type": "sql", "uri": catalog_uri}

    def _warehouse_uri(self) -> str:
        return self.warehouse if "://" in self.warehouse else Path(self.warehouse).as_uri()

    # -- primitives -----------------------------------------------------------------------------

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new store with its warehouse and SQLite catalog under ``folder/iceberg``."""
        return cls(Path(folder) / "iceberg", **options)

    @property
    def location(self) -> str:
        return self.warehouse

    def exists(self) -> bool:
        if "://" not in self.warehouse:
            return Path(self.warehouse).exists()
        return object_root_exists(self.warehouse, self.storage_options)

    def supports_concurrent_writers(self) -> bool:
        return True  # each append is one optimistic commit; a lost race is retried

    def _open_backend(self) -> None:
        import_driver("pyiceberg", "iceberg")
        from pyiceberg.catalog import load_catalog

        if "://" not in self.warehouse:
            if self.read_only and not Path(self.warehouse).exists():
                raise StoreBackendError(
                    f"{self.name}: the warehouse {self.warehouse} does not exist.",
                    hint="Point warehouse at an existing folder, or open the store writable to create it.",
                )
            Path(self.warehouse).mkdir(parents=True, exist_ok=True)
        with _translated(self.name, "open the catalog"):
            self._catalog = self._load_catalog(load_catalog)
            if not self.read_only:
                self._create_namespace()

    def _load_catalog(self, load_catalog: Any) -> Any:
        """The catalog; the SQL catalog creates its own tables on first use, and two processes doing
        that at once race (``table ... already exists``): the loser loads it again."""
        for _ in range(_COMMIT_ATTEMPTS - 1):
            try:
                return load_catalog(self.catalog_name, **self._catalog_properties)
            except Exception as exc:
                if not _is_race(exc):
                    raise
        return load_catalog(self.catalog_name, **self._catalog_properties)

    def _create_namespace(self) -> None:
        """The namespace, created unless it exists; two processes opening a new catalog at once race
        here, and the loser finds the winner's namespace."""
        try:
            self._catalog.create_namespace_if_not_exists(self.namespace)
        except Exception:
            if not self._catalog.namespace_exists(self.namespace):
                raise

    def _close_backend(self) -> None:
        catalog, self._catalog = self._catalog, None
        engine = getattr(catalog, "engine", None)
        if engine is not None:  # the SQL catalog's connection pool
            engine.dispose()

    def table_name(self, key: FeatureKey) -> str:
        """The table of ``key`` in the namespace: parts joined by ``__`` (as Metaxy 0.1.11 names them)."""
        return key.to_table_name()

    def table_identifier(self, key: FeatureKey) -> tuple[str, str]:
        """``(namespace, table)`` of ``key`` (``("metaxy", "video__raw")``)."""
        return self.namespace, self.table_name(key)

    def _table(self, key: FeatureKey) -> Any | None:
        """The table of ``key`` at its latest snapshot, or None when it was never created."""
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        try:
            with _translated(self._where(key), "load the table"):
                table = self._catalog.load_table(self.table_identifier(key))
        except (NoSuchTableError, NoSuchNamespaceError):
            return None
        owner = table.properties.get(KEY_PROPERTY)
        if owner is not None and owner != key.to_string():
            raise TableNameCollisionError(
                f"{self._where(key)}: table {'.'.join(self.table_identifier(key))} holds feature {owner!r}; "
                f"{key.to_string()!r} maps to the same table name.",
                hint="Rename one of the two features, or keep them in different stores or namespaces.",
            )
        return table

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        return storage_type(dtype)

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        table = self._table(key)
        return None if table is None else self._scan_table(table).collect_schema()

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        from pyiceberg.exceptions import CommitFailedException

        for column in df.columns:
            if (path := null_struct_list(df[column])) is not None:
                raise SchemaError(
                    f"{self._where(key)}: column {path!r} holds a null list of structs, which PyIceberg "
                    "would write as an empty list.",
                    hint="Write an empty list instead of null (or keep this feature in another store).",
                )
        data = df.to_arrow(compat_level=pl.CompatLevel.oldest())
        with self._lock:
            for attempt in range(1, _COMMIT_ATTEMPTS + 1):
                table = self._table(key) or self._create(key, data.schema)
                try:
                    with _translated(self._where(key), "append"):
                        self._evolve(table, data.schema)
                        _append_claiming(table, data, key)
                    return
                except (CommitFailedException, StoreBackendError) as exc:
                    if attempt == _COMMIT_ATTEMPTS or not _is_race(exc):
                        raise
                    # another writer committed first: reload the table and append again

    def _create(self, key: FeatureKey, schema: Any) -> Any:
        """Create ``key``'s table with its partition spec in one commit (or load it if another
        writer just did)."""
        from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError

        fields = self._partition_fields(key)
        missing = [f.source for f in fields if schema.get_field_index(f.source) < 0]
        if missing:
            raise SchemaError(
                f"{self._where(key)}: partition column(s) {missing} are not in the written frame.",
                hint="Use partition_by columns that every write of this feature carries.",
            )
        try:
            with _translated(self._where(key), "create the table"):
                tx = self._catalog.create_table_transaction(
                    self.table_identifier(key), schema=schema, properties={KEY_PROPERTY: key.to_string()}
                )
                if fields:
                    with tx.update_spec() as spec:
                        for field in fields:
                            spec.add_field(field.source, field.to_pyiceberg(), field.name)
                tx.commit_transaction()
        except (TableAlreadyExistsError, CommitFailedException):
            pass  # another writer created it first
        table = self._table(key)
        assert table is not None
        return table

    def _partition_fields(self, key: FeatureKey) -> tuple[PartitionField, ...]:
        if key.parts[0] == SYSTEM_NAMESPACE:
            return ()
        return self.partitioning_overrides.get(key.to_string(), self.partition_by)

    @staticmethod
    def _evolve(table: Any, schema: Any) -> None:
        """New columns, new struct fields and wider types, by the append-schema rule (already checked)."""
        current = table.schema().as_arrow()
        if all(current.get_field_index(f.name) >= 0 and current.field(f.name).type == f.type for f in schema):
            return
        with table.update_schema() as update:
            update.union_by_name(schema)

    def _scan_table(self, table: Any) -> pl.LazyFrame:
        snapshot = table.current_snapshot()
        if snapshot is None:  # created, never appended to
            schema = pl.DataFrame(table.schema().as_arrow().empty_table()).schema
            return normalize_stored(pl.LazyFrame(schema=schema))
        lf = pl.scan_iceberg(table, snapshot_id=snapshot.snapshot_id, storage_options=self._read_options())
        return normalize_stored(lf)

    def _read_options(self) -> dict[str, str] | None:
        return {k.lower(): v for k, v in self.storage_options.items()} if self.storage_options else None

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        table = self._table(key)
        return None if table is None else self._scan_table(table)

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        table = self._table(request.key)
        if table is None:
            return None
        lf = self._scan_table(table)
        skip = all_of(prunable((*request.filters, *request.prune), _stable_sources(table)))
        if skip is not None:  # before latest-row-wins: Iceberg plans only the files it may match
            lf = lf.filter(skip)
        return read_scanned(lf, request)

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        # answered from the table's metadata when it can be (file row counts and column bounds), so
        # that the probe of every read opens no data file and a pruned read opens only its files
        table = None if self.catalog is not None else self._table(key)
        if table is None:
            return self.catalog is not None and super()._holds(key, feature_version)
        snapshot = table.current_snapshot()
        if snapshot is None or int(snapshot.summary.get("total-records", "0")) == 0:
            return False
        if feature_version is None:
            return True
        answer = holds_version(table, feature_version)
        return super()._holds(key, feature_version) if answer is None else answer

    def _write_prepared(self, plan: FeaturePlan, frame: pl.DataFrame) -> None:
        table = self._table(plan.key)
        movable = [c for c in _stable_sources(table) if c not in plan.spec.id_columns]
        if table is not None and movable:
            check_no_moves(
                self._scan_table(table), frame, plan.spec.id_columns, movable, where=self._where(plan.key)
            )
        super()._write_prepared(plan, frame)

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """One transaction: the schema becomes ``frame``'s (columns gone or of another type are
        dropped, new ones added), then every row is overwritten; readers see the old table or the new.

        Raises:
            SchemaMigrationError: a column the partition spec is built on would change.
        """
        data = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
        table = self._table(key)
        if table is None:
            self._append(key, frame)
            return
        current = table.schema().as_arrow()
        changed = [
            f.name
            for f in current
            if data.schema.get_field_index(f.name) < 0 or data.schema.field(f.name).type != f.type
        ]
        moved = [c for c in _partition_sources(table) if c in changed]
        if moved:
            raise SchemaMigrationError(
                f"{self._where(key)}: the table is partitioned on {moved}, which this migration changes.",
                hint="Keep partition columns as they are, or copy the feature into a store partitioned "
                "on other columns first.",
            )
        with (
            self._lock,
            _translated(self._where(key), "rewrite (nothing was changed)"),
            table.transaction() as tx,
        ):
            if changed:
                with tx.update_schema(allow_incompatible_changes=True) as update:
                    for name in changed:
                        update.delete_column(name)
            with tx.update_schema() as update:
                update.union_by_name(data.schema)
            tx.overwrite(data)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        """Hard delete: everything in one delete commit, else the kept rows rewritten in one overwrite
        commit (a Polars predicate has no faithful Iceberg translation in general)."""
        from pyiceberg.expressions import AlwaysTrue

        table = self._table(key)
        if table is None or table.current_snapshot() is None:
            return
        with _translated(self._where(key), "delete"):
            if predicate is None:
                table.delete(AlwaysTrue())
                return
            rows = self._scan_table(table).collect()
            kept = rows.filter(~predicate.fill_null(False))
            if kept.height == rows.height:
                return
            table.overwrite(kept.to_arrow(compat_level=pl.CompatLevel.oldest()))

    def _list_keys(self) -> list[FeatureKey]:
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        keys = []
        with _translated(self.name, "list tables"):
            try:
                names = [name for _, name in self._catalog.list_tables(self.namespace)]
            except NoSuchNamespaceError:
                return []
            for name in names:
                try:
                    table = self._catalog.load_table((self.namespace, name))
                except NoSuchTableError:  # dropped meanwhile
                    continue
                snapshot = table.current_snapshot()
                if snapshot is None or int(snapshot.summary.get("total-records", "0")) == 0:
                    continue
                owner = table.properties.get(KEY_PROPERTY)
                keys += [FeatureKey(owner)] if owner else keys_from_tables([name])
        return keys

    # -- partitions -----------------------------------------------------------------------------

    def partition_columns(self, feature: FeatureLike) -> list[str]:
        """The table's partition fields (``captured_at_day``, ...), outermost first."""
        self.require_open()
        table = self._table(resolve_feature(feature)[0])
        return [] if table is None else [f.name for f in table.spec().fields]

    def partition_files(
        self, feature: FeatureLike, *, filters: Any = None, shard: Any = None
    ) -> tuple[int, int]:
        """``(files read, files in the table)`` for a read of ``feature`` with ``filters``: Iceberg's own
        plan of the current snapshot, with the filters that prune translated (``shard`` does not prune)."""
        self.require_open()
        key, _ = resolve_feature(feature)
        table = self._table(key)
        if table is None or table.current_snapshot() is None:
            return 0, 0
        total = len(list(table.scan().plan_files()))
        exprs = prunable(as_filters(filters, where=self._where(key)), _stable_sources(table))
        condition = iceberg_filter(exprs) if exprs else None
        if condition is None:
            return total, total
        return len(list(table.scan(row_filter=condition).plan_files())), total

    def __repr__(self) -> str:
        return f"IcebergMetadataStore({self.warehouse!r}, name={self.name!r})"


def _append_claiming(table: Any, data: Any, key: FeatureKey) -> None:
    """Append ``data``; a table recording no feature key (written by Metaxy 0.1.11) is claimed for
    ``key`` in the same commit, so that a colliding key is refused from then on."""
    if KEY_PROPERTY in table.properties:
        table.append(data)
        return
    with table.transaction() as tx:
        tx.set_properties({KEY_PROPERTY: key.to_string()})
        tx.append(data)


def holds_version(table: Any, version: str) -> bool | None:
    """Whether ``table`` holds rows at ``version``, from its file bounds alone (None: only the rows tell)."""
    expressions: Any = importlib.import_module("pyiceberg.expressions")
    field = table.schema().find_field(FEATURE_VERSION)
    condition = expressions.EqualTo(FEATURE_VERSION, version)
    files = [t.file for t in table.scan(row_filter=condition).plan_files()]
    if not files:
        return False
    wanted = version.encode()
    for file in files:
        low, high = (
            (file.lower_bounds or {}).get(field.field_id),
            (file.upper_bounds or {}).get(field.field_id),
        )
        if file.record_count > 0 and low == wanted and high == wanted:
            return True
    return None


def _stable_sources(table: Any | None) -> list[str]:
    """Source columns of the table's partition fields that a sample keeps (not system columns)."""
    if table is None:
        return []
    return [n for n in _partition_sources(table) if not n.startswith(PREFIX)]


def _partition_sources(table: Any) -> list[str]:
    """Source columns of the table's partition fields, outermost first."""
    schema = table.schema()
    return [n for f in table.spec().fields if (n := schema.find_column_name(f.source_id)) is not None]


def _parse_overrides(
    options: Mapping[str, Any] | None, *, where: str
) -> dict[str, tuple[PartitionField, ...]]:
    parsed = {}
    for name, entry in (options or {}).items():
        here = f"{where}, partitioning[{name!r}]"
        if not isinstance(entry, Mapping) or set(entry) - {"partition_by"}:
            raise ConfigError(
                f"{here}: {entry!r} is not a table with partition_by.",
                hint='Write e.g. partitioning = {"video/raw" = {partition_by = ["day(captured_at)"]}}.',
            )
        parsed[FeatureKey(name).to_string()] = parse_partition_by(entry.get("partition_by"), where=here)
    return parsed


def _is_race(exc: BaseException) -> bool:
    """A commit that lost to another writer (or found the catalog database busy): worth retrying."""
    cause = exc.__cause__ if isinstance(exc, StoreBackendError) else exc
    text = f"{type(cause).__name__}: {cause}"
    return "CommitFailed" in text or "database is locked" in text or "already exists" in text


def _normalize_root(warehouse: str | Path) -> str:
    text = str(warehouse)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().absolute())


class _translated:
    """Turn PyIceberg's exceptions into ours, once, at the edge of the store."""

    def __init__(self, where: str, action: str) -> None:
        self.where = where
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or exc_type is None or isinstance(exc, MetaxyError) or not isinstance(exc, Exception):
            return
        if exc_type.__name__ in ("NoSuchTableError", "NoSuchNamespaceError", "TableAlreadyExistsError"):
            return  # the callers decide
        if exc_type.__name__ == "CommitFailedException":
            return  # retried by the append
        raise backend_error(
            self.where,
            f"Iceberg {self.action}",
            exc,
            hint="Check the warehouse, the catalog settings and storage_options.",
        ) from exc
