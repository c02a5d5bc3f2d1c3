"""What the SQLAlchemy databases speak: Polars ⇄ SQLAlchemy column types, rows and JSON structs, and the
SQL dialects the versioning engine renders for PostgreSQL and SQLite."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import polars as pl
import sqlglot.expressions as exp
from sqlglot.dialects.sqlite import SQLite

from metaxy.constants import TIMESTAMP_COLUMNS
from metaxy.exceptions import FilterPushdownError, SchemaError
from metaxy.stores._drivers import import_driver
from metaxy.stores.schema_rule import (
    DType,
    arrays_as_lists,
    as_instance,
    common_leaf,
    map_leaves,
    microsecond_timestamp,
)
from metaxy.versioning.hashing import SEPARATOR, HashAlgorithm
from metaxy.versioning.sql.dialects import SQLDialect, bound_value, function_call, string_literal
from metaxy.versioning.sql.engine import CURRENT_PREFIX


def to_series(name: str, values: list[Any], sql_type: Any | None) -> pl.Series:
    """One fetched column as Polars: JSON → struct (fields sorted by name); system timestamps in UTC.

    ``sql_type`` None (a computed column) means: infer from the values; ``*_by_field`` are JSON.
    """
    if _read_family(name, sql_type) == "json":
        return json_to_struct(name, values)
    if sql_type is None:
        series = pl.Series(name, values, strict=False)
    else:
        series = pl.Series(name, values, dtype=polars_type(sql_type), strict=False)
    if (
        name.removeprefix(CURRENT_PREFIX) in TIMESTAMP_COLUMNS
        and isinstance(series.dtype, pl.Datetime)
        and series.dtype.time_zone is None
    ):
        series = series.dt.replace_time_zone("UTC")  # SQLite keeps naive UTC text
    return series


def arrow_to_series(name: str, column: pl.Series, sql_type: Any | None) -> pl.Series:
    """A column read through ADBC from SQLite (types inferred from its values) as :func:`to_series`
    reads the same values from Python rows: column-wise where the inferred type is the stored one or
    a plain widening of it, through Python values otherwise (timestamps, dates, mixed values)."""
    kind = _read_family(name, sql_type)
    if column.null_count() == column.len():
        return _chunked_like(column, to_series(name, [None] * column.len(), sql_type))
    if kind is None:  # a computed column: the driver inferred what the row path would
        return column
    if kind == "json" and column.dtype == pl.String:
        return decode_json(column)
    if column.dtype in _COLUMN_WISE.get(kind, ()):
        return column.cast(polars_type(sql_type))
    if kind in ("timestamp", "date") and column.dtype == pl.String:
        return _each_distinct_text_once(name, column, sql_type)
    return to_series(name, column.to_list(), sql_type)


def _chunked_like(column: pl.Series, values: pl.Series) -> pl.Series:
    """``values`` (as long as ``column``) in ``column``'s chunks: a frame whose columns are chunked
    alike is not copied whole to align them (1M rows of the wide benchmark root: ~130 MiB)."""
    lengths = column.chunk_lengths()
    if len(lengths) < 2:
        return values
    bounds = itertools.pairwise(itertools.accumulate(lengths, initial=0))
    return pl.concat([values.slice(start, end - start) for start, end in bounds], rechunk=False)


def _each_distinct_text_once(name: str, column: pl.Series, sql_type: Any) -> pl.Series:
    """Timestamp or date texts read as :func:`to_series` reads them, each distinct text once.

    Texts repeat (a write stamps all its rows alike): 1M rows of one write parsed in Python took 0.6 s.
    """
    distinct = column.drop_nulls().unique()
    values = to_series(name, distinct.to_list(), sql_type)
    return column.replace_strict(distinct, values, return_dtype=values.dtype).alias(name)


#: per type family, the types SQLite's ADBC driver infers that read back column-wise by a cast
_COLUMN_WISE: dict[str, tuple[type[pl.DataType], ...]] = {
    "text": (pl.String,),
    "integer": (pl.Int64,),
    "float": (pl.Int64, pl.Float64),
    "boolean": (pl.Int64,),
}


def _read_family(name: str, sql_type: Any | None) -> str | None:
    """The type family a fetched column is read as: its stored type's, JSON for a computed
    ``*_by_field`` column, None for another computed column (typed from its values)."""
    if sql_type is None:
        return "json" if name.endswith("_by_field") else None
    return family(sql_type)


def json_to_struct(name: str, raw: list[Any]) -> pl.Series:
    """JSON objects (text or decoded) → a struct with fields sorted by name; JSON arrays → lists."""
    if raw and all(v is None or isinstance(v, str) for v in raw):
        decoded = pl.Series(name, raw, dtype=pl.String).str.json_decode(infer_schema_length=None)
        if isinstance(decoded.dtype, pl.Struct):  # JSON text (SQLite): decoded by Polars in one go
            return _sorted_struct(decoded)
    values = [None if v is None else (json.loads(v) if isinstance(v, str) else v) for v in raw]
    if any(isinstance(v, list) for v in values):
        return pl.Series(name, values, strict=False)
    names = sorted({k for v in values if v is not None for k in v})
    rows = [None if v is None else {n: v.get(n) for n in names} for v in values]  # same keys in every row
    series = pl.Series(name, rows, strict=False)
    if not isinstance(series.dtype, pl.Struct):  # no rows: a struct of the (unknown) fields as strings
        return pl.Series(name, rows, dtype=pl.Struct(dict.fromkeys(names, pl.String)))
    return _sorted_struct(series)


def decode_json(series: pl.Series) -> pl.Series:
    """A column of JSON text as :func:`json_to_struct` decodes it, without a Python object per row
    when the values are objects (the usual case: ``*_by_field`` structs)."""
    if series.null_count() < series.len():
        decoded = series.str.json_decode(infer_schema_length=None)
        if isinstance(decoded.dtype, pl.Struct):
            return _sorted_struct(decoded)
    return json_to_struct(series.name, series.to_list())


def _sorted_struct(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    assert isinstance(dtype, pl.Struct)
    fields = sorted(dtype.fields, key=lambda f: f.name)
    target = pl.Struct({f.name: (pl.String() if f.dtype == pl.Null else f.dtype) for f in fields})
    rebuilt = series.struct.unnest().select(f.name for f in fields).to_struct(series.name).cast(target)
    if not series.null_count():
        return rebuilt
    # rebuilding from the fields would turn a null struct into a struct of nulls
    frame = pl.DataFrame({"v": rebuilt, "null": series.is_null()})
    return frame.select(pl.when(~pl.col("null")).then(pl.col("v")).alias(series.name)).to_series()


def json_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` (a struct or list) as JSON text, computed by Polars for the whole column.

    Structs encode in Polars; lists (rare in metadata) go through :func:`json.dumps` value by value.
    """
    column = pl.col(name)
    if isinstance(dtype, pl.Struct):
        return column.struct.json_encode()
    return column.map_elements(lambda v: json.dumps(v.to_list()), return_dtype=pl.String, skip_nulls=True)


def to_rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts for SQLAlchemy's ``insert`` (PostgreSQL takes ``COPY`` instead): structs stay
    dicts (the JSON column type serializes them); zoned timestamps become UTC wall time, as SQLite
    has no time zones."""
    zoned = [
        pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]
    return (df.with_columns(zoned) if zoned else df).to_dicts()


def sql_type(dtype: pl.DataType, *, postgres: bool) -> Any:
    """The SQLAlchemy column type for a Polars dtype (structs and lists as JSON / JSONB)."""
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
        if dtype.time_zone is not None and not postgres:
            # SQLite reflects DATETIME without its zone flag; a TIMESTAMP column says "zone-aware" by name
            return sa.TIMESTAMP(timezone=True)
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


def family(sql_type: Any) -> str:
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


def polars_type(sql_type: Any) -> pl.DataType:
    """The Polars dtype a column of ``sql_type`` reads back as."""
    kind = family(sql_type)
    types: dict[str, pl.DataType] = {
        "boolean": pl.Boolean(),
        "integer": pl.Int64(),
        "float": pl.Float64(),
        "timestamp": pl.Datetime("us", "UTC") if _zoned(sql_type) else pl.Datetime("us"),
        "date": pl.Date(),
        "binary": pl.Binary(),
    }
    return types.get(kind, pl.String())


def _zoned(sql_type: Any) -> bool:
    """Whether a timestamp column holds zone-aware values (SQLite: declared ``TIMESTAMP``, see sql_type)."""
    return bool(getattr(sql_type, "timezone", False)) or type(sql_type) is _sa().TIMESTAMP


def _sa() -> Any:
    return import_driver("sqlalchemy", "sqlalchemy")


#: scalars a JSON value (a struct or list column) holds exactly, and what they read back as
_JSON_LEAVES = (pl.String, pl.Boolean, pl.Null)


def storage_type(dtype: DType) -> pl.DataType | str:
    """How the SQLAlchemy store holds a Polars dtype (see ``docs/stores.md``, "Column types").

    Integers are ``BIGINT`` and floats double precision, so they read back as Int64 / Float64;
    structs and lists are JSON, whose scalars are strings, numbers, booleans and null only.
    """
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        mapped = map_leaves(dtype, _json_leaf)
        return mapped if isinstance(mapped, str) else arrays_as_lists(mapped)
    return map_leaves(dtype, _leaf)


def _leaf(dtype: DType) -> pl.DataType | str:
    dtype = as_instance(dtype)
    if dtype == pl.UInt64:
        return "SQL integers are signed 64-bit at most"
    if dtype.is_integer():
        return pl.Int64()
    if dtype.is_float():
        return pl.Float64()
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime):
        return microsecond_timestamp(dtype, "SQL")
    if isinstance(dtype, pl.Duration | pl.Time | pl.Decimal):
        return "this store has no column type for it"
    return common_leaf(dtype)


def _json_leaf(dtype: DType) -> pl.DataType | str:
    mapped = _leaf(dtype)
    if isinstance(mapped, str) or mapped.is_numeric() or isinstance(mapped, _JSON_LEAVES):
        return mapped
    return f"inside a struct or list (stored as JSON) a {dtype} would read back as a string"


class PostgresDialect(SQLDialect):
    """PostgreSQL: md5 and sha256 (hex via ``encode``); by-field columns are JSONB."""

    name = "postgres"
    sqlglot_dialect = "postgres"
    hashers = {
        HashAlgorithm.MD5: lambda e: function_call("md5", e),
        HashAlgorithm.SHA256: lambda e: function_call(
            "encode",
            function_call("sha256", function_call("convert_to", e, string_literal("UTF8"))),
            string_literal("hex"),
        ),
    }

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return exp.JSONExtractScalar(this=column, expression=string_literal(field))

    computes_digest = True

    def hex_to_int(self, hex_text: exp.Expr) -> exp.Expr:
        bits = exp.cast(
            exp.DPipe(this=string_literal("x"), expression=hex_text, safe=True), "BIT(32)", dialect="postgres"
        )
        return exp.cast(bits, "BIGINT")

    def param(self, value: Any) -> exp.Expr:
        if isinstance(value, str) and "\x00" in value:  # text cannot hold NUL: no stored value matches
            raise FilterPushdownError(
                "PostgreSQL text cannot contain NUL characters.", hint="Such a filter runs in Polars."
            )
        return super().param(value)

    def compare(self, op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
        # order strings by their bytes, as Polars does, whatever the database's collation
        if op not in ("Eq", "NotEq") and any(isinstance(bound_value(e), str) for e in (left, right)):
            left, right = (
                self.byte_order(e) if isinstance(bound_value(e), str) else e for e in (left, right)
            )
        return super().compare(op, left, right)

    def byte_order(self, text: exp.Expr) -> exp.Expr:
        # the "C" collation compares bytes (also faster to sort than a linguistic one such as en_US)
        return exp.Collate(this=text, expression=exp.Identifier(this="C", quoted=True))

    def computed_once(self, query: exp.Select) -> exp.Select:
        # PostgreSQL inlines a CTE read once, then runs its expressions wherever they are read (each
        # field hash again inside the provenance hash); OFFSET 0 keeps the CTE a subquery of its own
        return query.offset(0)


#: Python functions a SQLite store registers on each connection (SQLite has no MD5 or hex parsing)
SQLITE_MD5 = "metaxy_md5"
SQLITE_HEX_TO_INT = "metaxy_hex_to_int"


class _BacktickSQLite(SQLite):
    """SQLite quoting identifiers with backticks: a double-quoted name SQLite cannot resolve would be
    read as a string literal (``"vidoe_id" IS NOT NULL`` is true for every row); a backticked one is
    an error."""

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`", '"', ("[", "]")]


class SQLiteDialect(SQLDialect):
    """SQLite: no hash functions (versions are computed with Polars); by-field columns are JSON text."""

    name = "sqlite"
    sqlglot_dialect: ClassVar[Any] = _BacktickSQLite
    hashers = {}

    def param(self, value: Any) -> exp.Expr:
        if isinstance(value, float) and math.isnan(value):  # SQLite binds NaN as NULL
            raise FilterPushdownError("SQLite has no NaN value.", hint="Such a filter runs in Polars.")
        return super().param(value)

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        head = function_call("substr", value, exp.Literal.number(1), function_call("length", prefix))
        return exp.Paren(this=exp.EQ(this=head, expression=prefix.copy()))

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return function_call("json_extract", column, string_literal(f'$."{field}"'))

    def md5_hex(self, text: exp.Expr) -> exp.Expr:
        return function_call(SQLITE_MD5, text)  # SQLite has no MD5: the store registers this function

    def hex_to_int(self, hex_text: exp.Expr) -> exp.Expr:
        return function_call(SQLITE_HEX_TO_INT, hex_text)  # registered by the store too

    def ordered_join(self, value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
        # SQLite (3.44+) puts ORDER BY after the separator argument
        ordered_sep = exp.Order(
            this=string_literal(SEPARATOR),
            expressions=[exp.Ordered(this=o, desc=False, nulls_first=False) for o in order_by],
        )
        return function_call(
            "group_concat", exp.Coalesce(this=value, expressions=[string_literal("")]), ordered_sep
        )
