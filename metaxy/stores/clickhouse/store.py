"""``ClickHouseMetadataStore``: metadata in ClickHouse, embedded (chdb) or on a server (clickhouse-connect).

Layout (docs/concepts.md): database ``database``, one MergeTree table per feature ordered by its id columns;
``*_by_field`` columns are named Tuples. With ``cluster=`` every DDL runs ``ON CLUSTER`` and the feature
table is a Distributed table over a per-shard ``<table>_local``. Reads pick the latest row per id in
ClickHouse (``LIMIT 1 BY``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Self, Unpack

import polars as pl
import sqlglot.expressions as exp

from metaxy.exceptions import FilterPushdownError, MetaxyError, SchemaError, StoreError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores._naming import keys_from_tables, table_name
from metaxy.stores._sql import SQLMetadataStore
from metaxy.stores.base import ReadRequest, StoreOptions
from metaxy.stores.clickhouse import schema as chsql
from metaxy.stores.clickhouse.connection import ClickHouseConnection, connect, running_chdb_path
from metaxy.stores.clickhouse.schema import ClickHouseDialect
from metaxy.stores.schema_rule import DType, supertype
from metaxy.versioning.sql import to_sql_condition


class ClickHouseMetadataStore(SQLMetadataStore):
    """A store in ClickHouse.

    Args:
        connection_url: ``chdb:///path/to/dir`` or ``chdb://:memory:`` for an in-process ClickHouse (one
            data directory per process: isolate stores with ``database=``), or ``http(s)://user:pw@host:port``
            / ``clickhouse://...`` for a server.
        database: the ClickHouse database holding the feature tables (created when missing).
        cluster: a cluster name: DDL runs ``ON CLUSTER`` and tables are Distributed over local tables.
        **store_kwargs: ``fallback_stores``, ``hash_algorithm``, ... (see :class:`MetadataStore`).

    Example:
        >>> import metaxy as mx
        >>> with mx.ClickHouseMetadataStore("chdb://:memory:", database="docs") as store:
        ...     store.list_features()
        []
    """

    kind = "clickhouse"
    requires_plain_column_names = True
    dialect = ClickHouseDialect()
    path_options = ("connection_url",)

    def __init__(
        self,
        connection_url: str,
        *,
        database: str = "metaxy",
        cluster: str | None = None,
        **store_kwargs: Unpack[StoreOptions],
    ) -> None:
        self.connection_url = connection_url
        self.database = database
        self.cluster = cluster
        store_kwargs.setdefault("name", f"clickhouse({database})")
        self._conn: ClickHouseConnection | None = None
        super().__init__(schema=database, **store_kwargs)

    # -- lifecycle ------------------------------------------------------------------------------

    def _open_backend(self) -> None:
        self._conn = connect(self.connection_url, where=self.name)
        if not self.read_only:
            self._conn.command(chsql.create_database(self.database, self.cluster))

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new database of its own in embedded ClickHouse (chdb), kept under ``folder/chdb``.

        chdb runs one data directory per process: if this process already runs one, the new
        database lives there instead.
        """
        path = running_chdb_path() or str(Path(folder) / "chdb")
        return cls(f"chdb://{path}", database=f"scratch_{uuid.uuid4().hex[:12]}", **options)

    @property
    def location(self) -> str:
        head, sep, tail = self.connection_url.partition("@")
        url = f"{head.partition('://')[0]}://***@{tail}" if sep else self.connection_url
        return f"{url} (database {self.database})"

    def supports_concurrent_writers(self) -> bool:
        return not self.connection_url.startswith("chdb://")  # chdb: one process per data directory

    def is_in_process(self) -> bool:
        return self.connection_url.startswith("chdb://") and ":memory:" in self.connection_url

    def exists(self) -> bool:
        """Whether the store's database exists: in the chdb data directory (its metadata file), or on
        the server (``True`` when the server cannot be asked: opening the store reports why). Nothing
        is created."""
        path = self.connection_url.removeprefix("chdb://")
        if path in ("", ":memory:"):
            return True  # an in-process database lives as long as the store
        if path != self.connection_url:  # chdb: ClickHouse keeps <data>/metadata/<database>.sql
            return (Path(path.partition("?")[0]) / "metadata" / f"{self.database}.sql").is_file()
        if self._conn is not None:
            return self._server_has_database(self._conn)
        try:
            conn = connect(self.connection_url, where=self.name)
        except MetaxyError:
            return True  # unreachable: opening the store reports the connection error
        try:
            return self._server_has_database(conn)
        finally:
            conn.close()

    def _server_has_database(self, conn: ClickHouseConnection) -> bool:
        try:
            found = conn.query(
                "SELECT count() AS n FROM system.databases WHERE name = {name:String}",
                {"name": self.database},
            )
        except MetaxyError:
            return True  # the server cannot be asked: opening the store reports why
        return bool(found["n"][0] > 0)

    def _close_backend(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    @property
    def connection(self) -> ClickHouseConnection:
        """The open connection (chdb or clickhouse-connect)."""
        self.require_open()
        assert self._conn is not None
        return self._conn

    # -- primitives -----------------------------------------------------------------------------

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        return chsql.storage_type(dtype)

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        return self._schema(table_name(key))

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        name = table_name(key)
        stored = self._schema(name)
        changed = chsql.null_container(df, stored)
        if changed is not None:
            raise SchemaError(
                f"{self._where(key)}: {changed} holds a null struct or list, which ClickHouse would read "
                "back as a struct of nulls or an empty list.",
                hint="Write a struct of nulls or an empty list explicitly, or use another store for this feature.",
            )
        if stored is None:
            for statement in chsql.create_table(self.database, name, df.schema, _ids(key), self.cluster):
                self.connection.command(statement)
            stored = self._schema(name)
            assert stored is not None
        else:
            stored = self._evolve(key, name, stored, df.schema)
        if df.height:
            self.connection.insert(self.database, name, _fit(df, stored))

    def _table_columns(self, key: FeatureKey) -> list[str] | None:
        names = self.connection.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String} "
            "ORDER BY position",
            {"db": self.database, "t": table_name(key)},
        )["name"].to_list()
        return names or None

    def _fetch(self, query: exp.Expr) -> pl.DataFrame:
        # outer joins must give NULL (not the type's default) for unmatched rows, as in standard SQL
        sql, params = self.dialect.render_bound(query)
        return _utc_named(self.connection.query(sql + " SETTINGS join_use_nulls = 1", params))

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        name = table_name(key)
        if self._schema(name) is None:
            return
        if predicate is None:
            for table in chsql.storage_tables(name, self.cluster):
                self.connection.command(
                    f"DROP TABLE IF EXISTS {self._q(table)}{chsql.on_cluster(self.cluster)} SYNC"
                )
            return
        try:
            condition, params = self.dialect.render_bound(to_sql_condition(predicate, self.dialect))
        except FilterPushdownError:  # a predicate SQL cannot express: evaluate it locally
            self._rewrite_without(key, name, predicate)
            return
        target = chsql.storage_tables(name, self.cluster)[0]
        self.connection.command(
            f"ALTER TABLE {self._q(target)}{chsql.on_cluster(self.cluster)} DELETE WHERE {condition} "
            "SETTINGS mutations_sync = 2",
            params,
        )

    def _rewrite_without(self, key: FeatureKey, name: str, predicate: pl.Expr) -> None:
        """Hard delete by a Polars predicate: build the kept rows in a new table, then swap atomically."""
        everything = self._read_rows(ReadRequest.history(key))
        assert everything is not None
        kept = everything.filter(~predicate.fill_null(False)).collect()
        scratch = f"{name}__mx_rewrite_{uuid.uuid4().hex[:8]}"
        self.connection.command(f"CREATE TABLE {self._q(scratch)} AS {self._q(name)}")
        try:
            if kept.height:
                self.connection.insert(self.database, scratch, kept)
            self.connection.command(f"EXCHANGE TABLES {self._q(scratch)} AND {self._q(name)}")
        finally:
            self.connection.command(f"DROP TABLE IF EXISTS {self._q(scratch)} SYNC")

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """Build the new table beside the old one, then swap them atomically (``EXCHANGE TABLES``)."""
        if self.cluster:
            raise StoreError(
                f"{self._where(key)}: rewriting a table on cluster {self.cluster!r} is not supported yet.",
                hint="Migrate the schema with ClickHouse's own ALTER TABLE ... ON CLUSTER statements.",
            )
        name = table_name(key)
        scratch = f"{name}__mx_rewrite_{uuid.uuid4().hex[:8]}"
        for statement in chsql.create_table(self.database, scratch, frame.schema, _ids(key), None):
            self.connection.command(statement)
        try:
            if frame.height:
                stored = self._schema(scratch)
                assert stored is not None
                self.connection.insert(self.database, scratch, _fit(frame, stored))
            self.connection.command(f"EXCHANGE TABLES {self._q(scratch)} AND {self._q(name)}")
        finally:
            self.connection.command(f"DROP TABLE IF EXISTS {self._q(scratch)} SYNC")

    def _reclaim_space(self, key: FeatureKey) -> bool:
        """``OPTIMIZE ... FINAL``: merge the table's parts now, dropping deleted rows from disk."""
        name = table_name(key)
        if self._schema(name) is None:
            return False
        target = chsql.storage_tables(name, self.cluster)[0]
        self.connection.command(f"OPTIMIZE TABLE {self._q(target)}{chsql.on_cluster(self.cluster)} FINAL")
        return True

    def _list_keys(self) -> list[FeatureKey]:
        """Keys of the tables holding a row: without transactions, a first write that died between its
        CREATE TABLE and its INSERT leaves an empty table, which holds no feature (``has_feature`` agrees)."""
        names = self.connection.query(
            "SELECT name FROM system.tables WHERE database = {db:String}", {"db": self.database}
        )["name"].to_list()
        keys = keys_from_tables(
            [
                n
                for n in names
                if "__mx_rewrite_" not in n and not (self.cluster and n.endswith(chsql.LOCAL_SUFFIX))
            ],
            owners=self._claims.owners(),
        )
        return [key for key in keys if self._has_rows(key)]

    # -- schema ---------------------------------------------------------------------------------

    def _q(self, table: str) -> str:
        return f"{chsql.quote(self.database)}.{chsql.quote(table)}"

    def _schema(self, name: str) -> pl.Schema | None:
        """The stored table's schema as Polars types, or None when the table does not exist."""
        types = self._column_types(name)
        if not types:
            return None
        frame = _utc_named(self.connection.query(f"SELECT * FROM {self._q(name)} LIMIT 0"))
        return _naive(frame.lazy(), _naive_columns(types)).collect_schema()

    def _column_types(self, name: str) -> dict[str, str]:
        """Column name -> ClickHouse type of a table (empty when it does not exist)."""
        types = self.connection.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            {"db": self.database, "t": name},
        )
        return dict(types.iter_rows())

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        """As the SQL base class, with zone-less timestamps read back zone-less (as they were written)."""
        lf = super()._read_rows(request)
        return None if lf is None else _naive(lf, _naive_columns(self._column_types(table_name(request.key))))

    def _evolve(self, key: FeatureKey, name: str, stored: pl.Schema, incoming: pl.Schema) -> pl.Schema:
        """New columns are added (nullable); widened columns (append-schema rule) are modified."""
        changes: list[str] = []
        ids = _ids(key)
        for column, dtype in incoming.items():
            if column not in stored:
                changes.append(f"ADD COLUMN {chsql.quote(column)} {chsql.ch_type(dtype)}")
            elif dtype != stored[column]:
                if supertype(stored[column], dtype) != dtype:
                    raise SchemaError(
                        f"{self._where(key)}: column {column!r} is stored as {stored[column]} but the "
                        f"frame has {dtype}.",
                        hint="Cast the column to its stored type, or write it under a new column name.",
                    )
                sql_type = chsql.ch_type(dtype, nullable=column not in ids)
                changes.append(f"MODIFY COLUMN {chsql.quote(column)} {sql_type}")
        for change in changes:
            for table in chsql.storage_tables(name, self.cluster):
                self.connection.command(
                    f"ALTER TABLE {self._q(table)}{chsql.on_cluster(self.cluster)} {change} "
                    "SETTINGS mutations_sync = 2"
                )
        fresh = self._schema(name) if changes else stored
        assert fresh is not None
        return fresh


def _ids(key: FeatureKey) -> tuple[str, ...]:
    graph = FeatureGraph.get_active()
    return tuple(graph.spec(key).id_columns) if key in graph else ()


def _naive_columns(types: dict[str, str]) -> list[str]:
    """Zone-less ``DateTime64`` columns: the server hands them back in its own zone."""
    return [
        n for n, t in types.items() if t.removeprefix("Nullable(").startswith("DateTime64") and "'" not in t
    ]


def _naive(lf: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    present = [c for c in columns if c in lf.collect_schema()]
    if not present:
        return lf
    return lf.with_columns(pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None) for c in present)


def _utc_named(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetimes the server hands back in ``Etc/UTC`` read as ``UTC``, the zone metaxy writes."""
    casts = [pl.col(c).cast(chsql.utc_named(t)) for c, t in frame.schema.items() if chsql.utc_named(t) != t]
    return frame.with_columns(casts) if casts else frame


def _fit(df: pl.DataFrame, stored: pl.Schema) -> pl.DataFrame:
    """Shape structs like the stored Tuples (same fields, same order; missing fields null)."""
    fixes = []
    for column, dtype in df.schema.items():
        target = stored.get(column)
        if isinstance(dtype, pl.Struct) and isinstance(target, pl.Struct) and dtype != target:
            names = {f.name for f in dtype.fields}
            parts = [
                (pl.col(column).struct.field(f.name) if f.name in names else pl.lit(None))
                .cast(f.dtype)
                .alias(f.name)
                for f in target.fields
            ]
            fixes.append(pl.struct(parts).alias(column))
    return df.with_columns(fixes) if fixes else df
