"""``SparkMetadataStore``: one table folder per feature under a warehouse location, read, written and
resolved by Spark.

Each feature is a folder of Parquet files (``<warehouse>/video/raw.parquet``) with its Spark schema
beside them, or, with ``table_format="delta"``, a Delta table at the same place ``DeltaMetadataStore``
keeps it (``<warehouse>/video/raw.delta``; needs the Delta Lake connector in the session). Reads and
resolutions are Spark SQL built by the shared SQL engine; only their results come back to the driver.
:meth:`SparkMetadataStore.resolve_update_spark` and :meth:`SparkMetadataStore.write_spark` keep the
increment and the written rows in Spark.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, Unpack

import polars as pl
import sqlglot.expressions as exp

from metaxy.exceptions import FilterPushdownError, StoreBackendError
from metaxy.models.keys import FeatureKey
from metaxy.stores._drivers import import_driver
from metaxy.stores._errors import first_line, translated
from metaxy.stores._naming import TableClaims
from metaxy.stores._sql import SQLMetadataStore
from metaxy.stores.base import StoreOptions
from metaxy.stores.schema_rule import DType
from metaxy.stores.spark.files import HadoopFiles
from metaxy.stores.spark.schema import SparkDialect, merge_schemas, nullable, polars_schema, storage_type
from metaxy.stores.spark.session import check_session, local_session, register_xxhash
from metaxy.versioning.hashing import HashAlgorithm
from metaxy.versioning.sql import SQLTable, to_sql_condition
from metaxy.versioning.sql.engine import ident, latest_rows_query

if TYPE_CHECKING:
    from metaxy.models.feature import FeatureLike
    from metaxy.stores._read import Filters
    from metaxy.stores._shard import ShardSpec
    from metaxy.versioning.increment import Increment

TableFormat = Literal["parquet", "delta"]
SUFFIXES: dict[str, str] = {"parquet": ".parquet", "delta": ".delta"}
DEFAULT_MASTER = "local[2]"


class SparkMetadataStore(SQLMetadataStore):
    """Feature metadata in Spark tables under ``warehouse``, resolved in Spark SQL.

    Args:
        warehouse: where the table folders live: a local path, or a URI the session's Hadoop file
            system reads (``hdfs://...``, ``s3a://...``). A path without a scheme is local.
        spark: the ``SparkSession`` to use; without it, the running session, or a new local one on
            ``master`` (started offline: no UI, loopback only).
        master: the master URL of the session built when ``spark`` is not given (``"local[2]"``).
        table_format: ``"parquet"`` (Parquet files plus the table's schema) or ``"delta"`` (the Delta
            tables of ``DeltaMetadataStore``; the session needs the Delta Lake connector).
        **store_kwargs: ``fallback_stores``, ``hash_algorithm``, ``versioning_engine``, ...

    Closing the store never stops the session.
    """

    kind = "spark"
    dialect = SparkDialect()
    path_options = ("warehouse",)

    def __init__(
        self,
        warehouse: str | Path,
        *,
        spark: Any = None,
        master: str | None = None,
        table_format: TableFormat = "parquet",
        **store_kwargs: Unpack[StoreOptions],
    ) -> None:
        if table_format not in SUFFIXES:
            raise StoreBackendError(
                f"SparkMetadataStore: table_format={table_format!r} is not a table format.",
                hint="Use 'parquet' or 'delta'.",
            )
        self.warehouse = _normalize(warehouse)
        self.table_format: TableFormat = table_format
        self.master = master or DEFAULT_MASTER
        self._given_session = spark
        self._session: Any = None
        self._files: HadoopFiles | None = None
        self._views: dict[FeatureKey, str] = {}
        self._view_prefix = f"__mx_{uuid.uuid4().hex[:12]}_"
        super().__init__(**store_kwargs)
        self._claims = _NoClaims(self)

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new store with its tables under ``folder/spark``, in the process's local session."""
        return cls(Path(folder) / "spark", **options)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def spark(self) -> Any:
        """The ``SparkSession`` of the open store."""
        self.require_open()
        return self._session

    def _open_backend(self) -> None:
        session = self._given_session or local_session(self.name, self.master)
        check_session(self.name, session, delta=self.table_format == "delta")
        self._session = session
        self._files = HadoopFiles(session)
        self._check_warehouse()
        if self.hash_settings.algorithm in (HashAlgorithm.XXHASH32, HashAlgorithm.XXHASH64):
            with self._translated("registering the xxhash UDFs"):
                register_xxhash(session)

    def _check_warehouse(self) -> None:
        """A local warehouse must be a folder (created when missing, unless read-only) we can write in."""
        if not self.warehouse.startswith("file:"):
            return
        root = Path(self.warehouse.removeprefix("file:"))
        blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            problem = "is a file" if blocker == root else f"is under {blocker}, which is a file"
            raise StoreBackendError(
                f"{self.name}: warehouse {root} {problem}, not a folder.",
                hint="Point warehouse at a folder (it is created when missing).",
            )
        if self.read_only:
            return
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".mx_write_probe_{uuid.uuid4().hex}"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise StoreBackendError(
                f"{self.name}: the warehouse {root} is not writable: {first_line(exc)}",
                hint="Choose a folder this process may write, or open the store with read_only=True.",
            ) from exc

    def _close_backend(self) -> None:
        if self._session is not None:
            catalog = self._session.catalog
            for view in self._views.values():
                catalog.dropTempView(view)
        self._views.clear()
        self._session = None
        self._files = None

    @property
    def location(self) -> str:
        return self.warehouse.removeprefix("file:")

    def exists(self) -> bool:
        if self.warehouse.startswith("file:"):
            return Path(self.warehouse.removeprefix("file:")).exists()
        return True

    # -- paths ----------------------------------------------------------------------------------

    def table_path(self, key: FeatureKey) -> str:
        """Where ``key``'s table lives (``<warehouse>/video/raw.parquet``)."""
        *dirs, last = key.parts
        return "/".join([self.warehouse, *dirs, last + SUFFIXES[self.table_format]])

    def _translated(self, action: str, sql: str = "") -> translated:
        """The one place Spark's exceptions become ours (the hint shows the statement)."""
        shown = f"; the statement was:\n{sql[:2000]}" if sql else ""
        hint = "Check the warehouse location and that filters name stored columns" + shown
        return translated(self.name, f"Spark {action}", hint=hint, drivers=("pyspark", "py4j"))

    @property
    def _fs(self) -> HadoopFiles:
        self.require_open()
        assert self._files is not None
        return self._files

    # -- schema ---------------------------------------------------------------------------------

    def _spark_schema(self, key: FeatureKey) -> dict[str, Any] | None:
        """The table's Spark schema (JSON form), or None when the table does not exist."""
        path = self.table_path(key)
        with self._lock, self._translated("reading the table schema"):
            if self.table_format == "delta":
                if not self._fs.exists(f"{path}/_delta_log"):
                    return None
                return dict(self._session.read.format("delta").load(path).schema.jsonValue())
            return self._fs.read_schema(path)

    def _table_columns(self, key: FeatureKey) -> list[str] | None:
        schema = self._spark_schema(key)
        return None if schema is None else [f["name"] for f in schema["fields"]]

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        schema = self._spark_schema(key)
        return None if schema is None else polars_schema(schema)

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        return storage_type(dtype)

    # -- reads ----------------------------------------------------------------------------------

    def _sql_table(self, key: FeatureKey, feature_version: str | None = None) -> SQLTable | None:
        """The table as a temporary view over its folder, listed afresh (new files show up)."""
        self._claims.check(key)
        schema = self._spark_schema(key)
        if schema is None:
            return None
        view = self._views.setdefault(key, f"{self._view_prefix}{len(self._views)}")
        with self._lock, self._translated("reading the table"):
            self._frame_of(key, schema).createOrReplaceTempView(view)
        return SQLTable(view, tuple(f["name"] for f in schema["fields"]), feature_version, None)

    def _frame_of(self, key: FeatureKey, schema: dict[str, Any]) -> Any:
        """A Spark DataFrame over every stored row of ``key``."""
        path = self.table_path(key)
        if self.table_format == "delta":
            return self._session.read.format("delta").load(path)
        types = import_driver("pyspark.sql.types", "spark")
        struct = types.StructType.fromJson(schema)
        if not self._fs.data_files(path):
            return self._session.createDataFrame([], struct)
        return self._session.read.schema(struct).parquet(path)

    def _fetch(self, query: exp.Expr) -> pl.DataFrame:
        sql, params = self.dialect.render_bound(query)
        with self._lock, self._translated("query", sql):
            table = self._session.sql(sql, args=params or None).toArrow()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc(frame)

    def sql_frame(self, query: exp.Expr) -> Any:
        """A Spark DataFrame of a sqlglot query over this store's views (nothing runs until an action)."""
        sql, params = self.dialect.render_bound(query)
        with self._lock, self._translated("query", sql):
            return self._session.sql(sql, args=params or None)

    # -- writes ---------------------------------------------------------------------------------

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        arrow = to_arrow(df)
        with self._lock, self._translated("write (nothing was written)"):
            if self.table_format == "parquet" and self.warehouse.startswith("file:"):
                self._append_local(key, arrow)
            else:
                self._append_frame(key, self._session.createDataFrame(arrow), empty=df.height == 0)

    def _append_local(self, key: FeatureKey, arrow: Any) -> None:
        """A local warehouse: the driver writes the rows as one Parquet file (no Spark job), under a
        name Spark's readers skip, then renames it into the table (a rename is atomic on one disk)."""
        from pyarrow import parquet
        from pyspark.sql.pandas.types import from_arrow_schema

        path = self.table_path(key)
        stored = self._fs.read_schema(path)
        merged = merge_schemas(stored, nullable(from_arrow_schema(arrow.schema).jsonValue()))
        if merged != stored:  # schema first: a failed write then leaves only columns with no value
            self._fs.mkdirs(path)
            self._fs.write_schema(path, merged)
        if arrow.num_rows:
            folder = Path(path.removeprefix("file:"))
            name = f"part-mx-{uuid.uuid4().hex}.parquet"
            parquet.write_table(arrow, folder / f"_{name}")
            (folder / f"_{name}").rename(folder / name)

    def _append_frame(self, key: FeatureKey, frame: Any, *, empty: bool = False) -> None:
        """Append a Spark DataFrame whose columns already follow the stored schema."""
        path = self.table_path(key)
        if self.table_format == "delta":
            frame.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
            return
        stored = self._fs.read_schema(path)
        merged = merge_schemas(stored, nullable(frame.schema.jsonValue()))
        if merged != stored:  # schema first: a failed write then leaves only columns with no value
            self._fs.mkdirs(path)
            self._fs.write_schema(path, merged)
        if not empty:
            frame.write.mode("append").parquet(path)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        path = self.table_path(key)
        if self._table_columns(key) is None:
            return
        if predicate is None:
            with self._lock, self._translated("dropping the table"):
                self._fs.delete(path)
            return
        try:
            condition = to_sql_condition(predicate, self.dialect)
        except FilterPushdownError as exc:
            raise FilterPushdownError(
                f"{self._where(key)}: hard delete needs a filter Spark SQL can run. {exc.message}",
                hint=exc.hint,
            ) from exc
        table = self._sql_table(key)
        assert table is not None
        kept = exp.not_(exp.Coalesce(this=condition, expressions=[exp.false()]))
        query = exp.select(exp.Star()).from_(exp.Table(this=ident(table.name))).where(kept)
        with self._lock, self._translated("delete"):
            if self.table_format == "delta":
                where, params = self.dialect.render_bound(condition)
                self._session.sql(f"DELETE FROM delta.`{path}` WHERE {where}", args=params or None)
                return
            self._rewrite(path, self.sql_frame(query))

    def _delete_keyed(self, key: FeatureKey, keys: pl.DataFrame) -> None:
        """The rows matching a row of ``keys`` (null-safe equality) removed by one anti join (Parquet)
        or one ``MERGE ... DELETE`` (Delta)."""
        schema = self._spark_schema(key)
        if schema is None or keys.height == 0:
            return
        path = self.table_path(key)
        renamed = {c: f"__mx_key_{i}" for i, c in enumerate(keys.columns)}
        with self._lock, self._translated("delete"):
            source = self._session.createDataFrame(to_arrow(keys.rename(renamed)))
            if self.table_format == "delta":
                view = f"{self._view_prefix}keys_{uuid.uuid4().hex[:8]}"
                source.createOrReplaceTempView(view)
                match = " AND ".join(f"t.`{c}` <=> s.`{k}`" for c, k in renamed.items())
                try:
                    self._session.sql(
                        f"MERGE INTO delta.`{path}` AS t USING {view} AS s ON {match} WHEN MATCHED THEN DELETE"
                    )
                finally:
                    self._session.catalog.dropTempView(view)
                return
            stored = self._frame_of(key, schema)
            condition = [stored[c].eqNullSafe(source[k]) for c, k in renamed.items()]
            self._rewrite(path, stored.join(source, on=condition, how="left_anti"))

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """Every row of ``key`` replaced by ``frame``, whose schema becomes the table's."""
        path = self.table_path(key)
        with self._lock, self._translated("rewrite (nothing was changed)"):
            rows = self._session.createDataFrame(to_arrow(frame))
            if self.table_format == "delta":
                rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
                return
            self._fs.mkdirs(path)
            self._rewrite(path, rows, schema=nullable(rows.schema.jsonValue()))

    def _rewrite(self, path: str, kept: Any, *, schema: dict[str, Any] | None = None) -> None:
        """Replace a table's files with ``kept`` (and its schema file with ``schema``, if given).

        The new files are written aside first (a failure there changes nothing), then moved in; a
        crash while they are moved leaves them in the ``_mx_rewrite_*`` folder, which readers skip.
        """
        aside = f"{path}/_mx_rewrite_{uuid.uuid4().hex}"
        kept.write.mode("overwrite").parquet(aside)
        for name in self._fs.data_files(path):
            self._fs.delete(f"{path}/{name}")
        for name in self._fs.data_files(aside):
            self._fs.rename(f"{aside}/{name}", f"{path}/{name}")
        if schema is not None:
            self._fs.write_schema(path, schema)
        self._fs.delete(aside)

    def _list_keys(self) -> list[FeatureKey]:
        suffix = SUFFIXES[self.table_format]
        keys: list[FeatureKey] = []
        with self._lock, self._translated("listing tables"):
            pending: list[list[str]] = [[]]
            while pending:
                parts = pending.pop()
                folder = "/".join([self.warehouse, *parts])
                for name, is_dir in self._fs.entries(folder):
                    if not is_dir or name.startswith("."):  # a key part may start with "_"
                        continue
                    if name.endswith(suffix):
                        keys.append(FeatureKey([*parts, name[: -len(suffix)]]))
                    else:
                        pending.append([*parts, name])
        return sorted((k for k in keys if self._has_rows(k)), key=lambda k: k.parts)

    def _has_rows(self, key: FeatureKey) -> bool:
        if self.table_format == "parquet" and not self._fs.data_files(self.table_path(key)):
            return False
        table = self._sql_table(key)
        if table is None:
            return False
        rows = latest_rows_query(table, (), latest=False, include_deleted=True)
        return self._fetch(rows.select(exp.Literal.number(1), append=False).limit(1)).height > 0

    # -- Spark in, Spark out -----------------------------------------------------------------------

    def resolve_update_spark(
        self, feature: FeatureLike, *, filters: Filters = None, shard: ShardSpec = None
    ) -> Increment[Any]:
        """``resolve_update`` with the increment as Spark DataFrames, computed where the data is.

        The three frames share one resolution query; nothing runs until a Spark action.
        """
        from metaxy.stores.spark.frames import resolve_in_spark

        return resolve_in_spark(self, feature, filters=filters, shard=shard)

    def write_spark(self, feature: FeatureLike, frame: Any) -> Any:
        """``calculate_and_write_data_versions`` for a Spark DataFrame: provenance attached, system
        columns added and the rows appended, all in Spark. Returns the written rows (a Spark DataFrame)."""
        from metaxy.stores.spark.frames import write_in_spark

        return write_in_spark(self, feature, frame)

    def __repr__(self) -> str:
        return (
            f"SparkMetadataStore({self.location!r}, table_format={self.table_format!r}, name={self.name!r})"
        )


class _NoClaims(TableClaims):
    """Table paths follow the key's parts one to one, so no two keys share a table: nothing to claim."""

    def owners(self) -> dict[str, FeatureKey]:
        return {}

    def check(self, key: FeatureKey, *, claim: bool = False) -> None:
        return None


def _normalize(warehouse: str | Path) -> str:
    """A URI for the Hadoop file system: local paths become absolute ``file:`` URIs."""
    text = str(warehouse)
    if "://" in text and not text.startswith("file://"):
        return text.rstrip("/")
    text = text.removeprefix("file://")
    return "file:" + str(Path(text).expanduser().absolute())


def to_arrow(df: pl.DataFrame) -> Any:
    """``df`` as Arrow for Spark (zone-less datetimes become ``TIMESTAMP_NTZ``, zone-aware ones instants)."""
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


def utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps read back in the session's time zone, at any depth, as metaxy's UTC."""
    changed = {c: _utc_type(t) for c, t in frame.schema.items()}
    casts = [pl.col(c).cast(t) for c, t in changed.items() if t != frame.schema[c]]
    return frame.with_columns(casts) if casts else frame


def _utc_type(dtype: pl.DataType) -> pl.DataType:
    if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC"):
        return pl.Datetime(dtype.time_unit, "UTC")
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _utc_type(as_dtype(f.dtype)) for f in dtype.fields})
    if isinstance(dtype, pl.List):
        return pl.List(_utc_type(as_dtype(dtype.inner)))
    return dtype


def as_dtype(dtype: Any) -> pl.DataType:
    instance: pl.DataType = dtype() if isinstance(dtype, type) else dtype
    return instance
