"""``SQLAlchemyMetadataStore``: metadata in PostgreSQL (psycopg 3) or SQLite through SQLAlchemy Core.

Layout (DESIGN §6): one table per feature, ``<table_prefix><key parts joined by __>``. ``*_by_field``
struct columns are JSONB on PostgreSQL and JSON text on SQLite; timestamps are ``TIMESTAMPTZ`` on
PostgreSQL and UTC text on SQLite. Reads select the latest row per id in SQL (a window function) and
decode back to Polars structs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.constants import DELETED_AT, FEATURE_VERSION, TIMESTAMP_COLUMNS, UPDATED_AT
from metaxy.exceptions import SchemaError
from metaxy.models.keys import FeatureKey
from metaxy.stores._drivers import import_driver
from metaxy.stores._naming import check_column_names, key_from_table, table_name
from metaxy.stores.base import MetadataStore

if TYPE_CHECKING:
    import sqlalchemy

_RN = "__mx_rn"


class SQLAlchemyMetadataStore(MetadataStore):
    """A store over any SQLAlchemy URL; tested on PostgreSQL (``postgresql+psycopg://``) and SQLite.

    Args:
        connection_url: SQLAlchemy URL, e.g. ``"sqlite:///meta.db"`` or
            ``"postgresql+psycopg://user@host/db"``.
        table_prefix: prepended to every feature table name.
        enable_native_computation: let PostgreSQL hash md5/sha256 in SQL (otherwise Polars hashes).
        **store_kwargs: ``fallback_stores``, ``hash_algorithm``, ... (see :class:`MetadataStore`).

    Example:
        >>> import metaxy as mx
        >>> with mx.SQLAlchemyMetadataStore("sqlite://") as store:
        ...     store.list_features()
        []
    """

    kind = "sqlalchemy"

    def __init__(
        self,
        connection_url: str,
        *,
        table_prefix: str = "metaxy_",
        enable_native_computation: bool = False,
        **store_kwargs: Any,
    ) -> None:
        self.connection_url = connection_url
        self.table_prefix = table_prefix
        self.enable_native_computation = enable_native_computation
        store_kwargs.setdefault("name", f"sqlalchemy({_redact(connection_url)})")
        super().__init__(**store_kwargs)
        self._engine: sqlalchemy.Engine | None = None
        self._tables: dict[str, sqlalchemy.Table] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def _open_backend(self) -> None:
        sa = _sa()
        kwargs: dict[str, Any] = {}
        if self.connection_url.startswith("sqlite") and _is_sqlite_memory(self.connection_url):
            # one shared connection, otherwise every checkout would see a fresh empty database
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        self._engine = sa.create_engine(self.connection_url, **kwargs)
        self._tables = {}

    def _close_backend(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._tables = {}

    @property
    def engine(self) -> sqlalchemy.Engine:
        """The SQLAlchemy engine (only while the store is open)."""
        self._require_open()
        assert self._engine is not None
        return self._engine

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    # -- primitives -----------------------------------------------------------------------------

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        check_column_names(df.columns, where=self._where(key))
        sa = _sa()
        with self.engine.begin() as conn:  # one transaction: all rows or none
            table = self._ensure_table(conn, key, df)
            rows = _to_rows(df, sqlite=not self.is_postgres)
            if rows:
                conn.execute(sa.insert(table), rows)

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        table = self._table(key)
        if table is None:
            return None
        return self._fetch(table, _sa().select(table), feature_version=None)

    def _read_rows(
        self,
        key: FeatureKey,
        ids: Sequence[str],
        *,
        feature_version: str | None,
        latest: bool,
        include_deleted: bool,
        filters: Sequence[pl.Expr],
    ) -> pl.LazyFrame | None:
        table = self._table(key)
        if table is None:
            return None
        lf = self._fetch(
            table, self._latest_query(table, ids, feature_version, latest, include_deleted), feature_version
        )
        for expr in filters:
            lf = lf.filter(expr)
        return lf

    def _latest_query(
        self,
        table: sqlalchemy.Table,
        ids: Sequence[str],
        feature_version: str | None,
        latest: bool,
        include_deleted: bool,
    ) -> sqlalchemy.Select[Any]:
        """Version filter, latest row per id (ROW_NUMBER over updated_at), then soft deletes — all in SQL."""
        sa = _sa()
        query: sqlalchemy.Select[Any] = sa.select(table)
        if feature_version is not None:
            query = query.where(table.c[FEATURE_VERSION] == sa.bindparam("fv", feature_version))
        if latest and ids:
            order = table.c[UPDATED_AT].desc()
            rank = sa.func.row_number().over(partition_by=[table.c[i] for i in ids], order_by=order)
            inner = query.add_columns(rank.label(_RN)).subquery()
            cols = [inner.c[c.name] for c in table.columns]
            query = sa.select(*cols).where(inner.c[_RN] == 1)
            if not include_deleted:
                query = query.where(inner.c[DELETED_AT].is_(None))
        elif not include_deleted:
            query = query.where(table.c[DELETED_AT].is_(None))
        return query

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        sa = _sa()
        table = self._table(key)
        if table is None:
            return
        with self.engine.begin() as conn:
            if predicate is None:
                table.drop(conn)
                self._tables.pop(table.name, None)
                return
            # the predicate is a Polars expression: evaluate it locally, rewrite the table in one transaction
            everything = self._fetch(table, sa.select(table), None, conn=conn).collect()
            kept = everything.filter(~predicate.fill_null(False))
            conn.execute(sa.delete(table))
            rows = _to_rows(kept, sqlite=not self.is_postgres)
            if rows:
                conn.execute(sa.insert(table), rows)

    def _list_keys(self) -> list[FeatureKey]:
        names = _sa().inspect(self.engine).get_table_names()
        keys = [key_from_table(n, self.table_prefix) for n in names]
        return [k for k in keys if k is not None]

    # -- tables ---------------------------------------------------------------------------------

    def _table(self, key: FeatureKey) -> sqlalchemy.Table | None:
        name = table_name(key, self.table_prefix)
        if name in self._tables:
            return self._tables[name]
        sa = _sa()
        if not sa.inspect(self.engine).has_table(name):
            return None
        table: sqlalchemy.Table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
        self._tables[name] = table
        return table

    def _ensure_table(
        self, conn: sqlalchemy.Connection, key: FeatureKey, df: pl.DataFrame
    ) -> sqlalchemy.Table:
        """Create the table on first write; add new columns (nullable) later; refuse changed types."""
        sa = _sa()
        name = table_name(key, self.table_prefix)
        wanted = {c: _sql_type(df.schema[c], postgres=self.is_postgres) for c in df.columns}
        table: sqlalchemy.Table
        if not sa.inspect(conn).has_table(name):
            table = sa.Table(name, sa.MetaData(), *(sa.Column(c, t) for c, t in wanted.items()))
            table.create(conn)
        else:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            self._check_types(key, table, wanted)
            for column, sql_type in wanted.items():
                if column not in table.c:
                    quoted = conn.dialect.identifier_preparer.quote
                    type_sql = sql_type.compile(dialect=conn.dialect)
                    conn.execute(
                        sa.text(f"ALTER TABLE {quoted(name)} ADD COLUMN {quoted(column)} {type_sql}")
                    )
            if set(wanted) - set(table.c.keys()):
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        self._tables[name] = table
        return table

    def _check_types(self, key: FeatureKey, table: sqlalchemy.Table, wanted: dict[str, Any]) -> None:
        for column, sql_type in wanted.items():
            if column not in table.c:
                continue
            stored = _family(table.c[column].type)
            if stored != _family(sql_type):
                raise SchemaError(
                    f"{self._where(key)}: column {column!r} is stored as {stored} but the frame has {_family(sql_type)}.",
                    hint="Cast the column to its stored type, or write it under a new column name.",
                )

    # -- reading --------------------------------------------------------------------------------

    def _fetch(
        self,
        table: sqlalchemy.Table,
        query: sqlalchemy.Select[Any],
        feature_version: str | None,
        *,
        conn: sqlalchemy.Connection | None = None,
    ) -> pl.LazyFrame:
        if conn is None:
            with self.engine.connect() as own:
                return self._fetch(table, query, feature_version, conn=own)
        result = conn.execute(query)
        names = list(result.keys())
        rows = result.fetchall()
        types = {c.name: c.type for c in table.columns}
        series = [_to_series(n, [row[i] for row in rows], types[n]) for i, n in enumerate(names)]
        return pl.DataFrame(series).lazy()


# -- conversions -------------------------------------------------------------------------------


def _to_series(name: str, values: list[Any], sql_type: Any) -> pl.Series:
    """One fetched column as Polars: JSON → struct (fields sorted by name); system timestamps in UTC."""
    family = _family(sql_type)
    if family == "json":
        return _json_to_struct(name, values)
    series = pl.Series(name, values, dtype=_polars_type(sql_type), strict=False)
    if name in TIMESTAMP_COLUMNS and isinstance(series.dtype, pl.Datetime) and series.dtype.time_zone is None:
        series = series.dt.replace_time_zone("UTC")  # SQLite keeps naive UTC text
    return series


def _json_to_struct(name: str, raw: list[Any]) -> pl.Series:
    values = [None if v is None else (json.loads(v) if isinstance(v, str) else v) for v in raw]
    if any(isinstance(v, list) for v in values):
        return pl.Series(name, values, strict=False)
    names = sorted({k for v in values if v is not None for k in v})
    rows = [None if v is None else {n: v.get(n) for n in names} for v in values]
    series = pl.Series(name, rows, strict=False)
    if not isinstance(series.dtype, pl.Struct):  # no rows: a struct of the (unknown) fields as strings
        return pl.Series(name, rows, dtype=pl.Struct(dict.fromkeys(names, pl.String)))
    fields = {f.name: (pl.String() if f.dtype == pl.Null else f.dtype) for f in series.dtype.fields}
    return series.cast(pl.Struct(fields))


def _to_rows(df: pl.DataFrame, *, sqlite: bool) -> list[dict[str, Any]]:
    """Rows as dicts (structs stay dicts: the JSON column type serializes them)."""
    out = df
    if sqlite:  # SQLite has no time zones: store UTC wall time
        for name, dtype in df.schema.items():
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
                out = out.with_columns(pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None))
    return out.to_dicts()


def _sql_type(dtype: pl.DataType, *, postgres: bool) -> Any:
    sa = _sa()
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        if postgres:
            from sqlalchemy.dialects.postgresql import JSONB

            return JSONB()
        return sa.JSON()
    if dtype == pl.Boolean:
        return sa.Boolean()
    if dtype.is_integer():
        return sa.BigInteger()
    if dtype.is_float():
        return sa.Float()
    if isinstance(dtype, pl.Datetime):
        return sa.DateTime(timezone=dtype.time_zone is not None)
    if dtype == pl.Date:
        return sa.Date()
    if dtype in (pl.String, pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum):
        return sa.Text()
    if dtype == pl.Binary:
        return sa.LargeBinary()
    raise SchemaError(
        f"Polars type {dtype} has no SQL column type in this store.",
        hint="Cast the column to a string, number, boolean, date/datetime or struct before writing.",
    )


def _family(sql_type: Any) -> str:
    """A coarse type family, robust to how a dialect reflects the type back."""
    sa = _sa()
    if isinstance(sql_type, sa.JSON) or type(sql_type).__name__ in ("JSONB", "JSON"):
        return "json"
    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    if isinstance(sql_type, sa.Integer):
        return "integer"
    if isinstance(sql_type, sa.Float | sa.Numeric):
        return "float"
    if isinstance(sql_type, sa.DateTime):
        return "timestamp"
    if isinstance(sql_type, sa.Date):
        return "date"
    if isinstance(sql_type, sa.LargeBinary):
        return "binary"
    return "text"


def _polars_type(sql_type: Any) -> pl.DataType:
    family = _family(sql_type)
    types: dict[str, pl.DataType] = {
        "boolean": pl.Boolean(),
        "integer": pl.Int64(),
        "float": pl.Float64(),
        "timestamp": pl.Datetime("us", "UTC") if getattr(sql_type, "timezone", False) else pl.Datetime("us"),
        "date": pl.Date(),
        "binary": pl.Binary(),
    }
    return types.get(family, pl.String())


def _is_sqlite_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url


def _redact(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, _creds = head.partition("://")
    return f"{scheme}://***@{tail}"


def _sa() -> Any:
    return import_driver("sqlalchemy", "sqlalchemy")


__all__ = ["SQLAlchemyMetadataStore"]
