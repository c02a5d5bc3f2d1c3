"""What ClickHouse speaks: quoting, Polars → ClickHouse types, DDL (local and ``ON CLUSTER``), and the
SQL dialect the versioning engine renders for it (:class:`ClickHouseDialect`).

Pure functions returning SQL strings, so the generated text (cluster DDL included) is testable without a
server. Identifiers are always quoted; values are bound as ``{name:Type}`` parameters, never formatted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlglot.expressions as exp

from metaxy.exceptions import SchemaError
from metaxy.stores.schema_rule import DType, arrays_as_lists, as_instance, common_leaf, map_leaves
from metaxy.versioning.hashing import SEPARATOR, HashAlgorithm
from metaxy.versioning.sql.dialects import (
    BOUND_VALUE,
    COMPARISONS,
    SQLDialect,
    bound,
    bound_value,
    function_call,
    string_literal,
)

LOCAL_SUFFIX = "_local"


def quote(name: str) -> str:
    """A backquoted ClickHouse identifier (backslashes and backquotes escaped)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def on_cluster(cluster: str | None) -> str:
    return f" ON CLUSTER {quote(cluster)}" if cluster else ""


def ch_type(dtype: Any, *, nullable: bool = True) -> str:
    """The ClickHouse column type for a Polars dtype (structs become named Tuples)."""
    if isinstance(dtype, pl.Struct):  # a Tuple cannot be Nullable; its elements can
        inner = ", ".join(f"{quote(f.name)} {ch_type(f.dtype)}" for f in dtype.fields)
        return f"Tuple({inner})"
    if isinstance(dtype, pl.List | pl.Array):
        return f"Array({ch_type(dtype.inner)})"
    base = _scalar_type(dtype)
    return f"Nullable({base})" if nullable else base


_SCALARS: dict[pl.DataType, str] = {
    pl.Int8(): "Int8",
    pl.Int16(): "Int16",
    pl.Int32(): "Int32",
    pl.Int64(): "Int64",
    pl.UInt8(): "UInt8",
    pl.UInt16(): "UInt16",
    pl.UInt32(): "UInt32",
    pl.UInt64(): "UInt64",
    pl.Float32(): "Float32",
    pl.Float64(): "Float64",
    pl.Boolean(): "Bool",
    pl.String(): "String",
    pl.Null(): "String",
    pl.Categorical(): "String",
    pl.Binary(): "String",
    pl.Date(): "Date32",
}


def _scalar_type(dtype: Any) -> str:
    if isinstance(dtype, pl.Datetime):
        unit = {"ms": 3, "us": 6, "ns": 9}[dtype.time_unit]
        zone = f", '{dtype.time_zone}'" if dtype.time_zone else ""
        return f"DateTime64({unit}{zone})"
    found = _SCALARS.get(dtype)
    if found is None:
        raise SchemaError(
            f"Polars type {dtype} has no ClickHouse column type in this store.",
            hint="Cast the column to a number, string, boolean, date/datetime, list or struct before writing.",
        )
    return found


def create_table(
    database: str, table: str, schema: pl.Schema, ids: Sequence[str], cluster: str | None
) -> list[str]:
    """DDL for a feature table: MergeTree ordered by the id columns; on a cluster, a local table per shard
    plus a Distributed table of the feature's name over it."""
    columns = ", ".join(
        f"{quote(name)} {ch_type(dtype, nullable=name not in ids)}" for name, dtype in schema.items()
    )
    order = "(" + ", ".join(quote(i) for i in ids) + ")" if ids else "tuple()"
    target = table + LOCAL_SUFFIX if cluster else table
    engine = "ReplicatedMergeTree" if cluster else "MergeTree"
    statements = [
        f"CREATE TABLE IF NOT EXISTS {quote(database)}.{quote(target)}{on_cluster(cluster)} "
        f"({columns}) ENGINE = {engine} ORDER BY {order}"
    ]
    if cluster:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {quote(database)}.{quote(table)}{on_cluster(cluster)} "
            f"AS {quote(database)}.{quote(target)} "
            f"ENGINE = Distributed({quote(cluster)}, {quote(database)}, {quote(target)}, rand())"
        )
    return statements


def create_database(database: str, cluster: str | None) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote(database)}{on_cluster(cluster)}"


def storage_tables(table: str, cluster: str | None) -> list[str]:
    """Tables that hold rows (DDL changes go to all of them; on a cluster the Distributed one too)."""
    return [table + LOCAL_SUFFIX, table] if cluster else [table]


def storage_type(dtype: DType) -> pl.DataType | str:
    """How ClickHouse holds a Polars dtype (see ``docs/stores.md``, "Column types").

    A zone-less datetime column reads back zone-less; inside a struct or list it reads back in UTC.
    """
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return dtype
    mapped = map_leaves(dtype, _leaf)
    return mapped if isinstance(mapped, str) else arrays_as_lists(mapped)


def _leaf(dtype: DType) -> pl.DataType | str:
    dtype = as_instance(dtype)
    if dtype == pl.Binary:
        return "ClickHouse strings read back as UTF-8 text, so arbitrary bytes would not read back"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return pl.Datetime(dtype.time_unit, "UTC")  # nested, a zone-less DateTime64 reads back in UTC
    if isinstance(dtype, pl.Duration | pl.Time | pl.Decimal):
        return "this store has no column type for it"
    return common_leaf(dtype)


def utc_named(dtype: DType) -> pl.DataType:
    dtype = as_instance(dtype)
    """``dtype`` with the server's ``Etc/UTC`` spelled ``UTC`` (as metaxy writes it), at any depth."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone == "Etc/UTC":
        return pl.Datetime(dtype.time_unit, "UTC")
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: utc_named(f.dtype) for f in dtype.fields})
    if isinstance(dtype, pl.List):
        return pl.List(utc_named(dtype.inner))  # type: ignore[arg-type]
    return dtype


def null_container(df: pl.DataFrame, stored: pl.Schema | None) -> str | None:
    """A struct or list value ClickHouse would turn into a struct of nulls or ``[]``: where it is.

    ClickHouse Tuples and Arrays cannot be Nullable, so a null struct or list (or a stored struct or
    list column the write leaves out) would read back changed.
    """
    for name, dtype in (stored or {}).items():
        if isinstance(dtype, pl.Struct | pl.List) and name not in df.columns:
            return f"column {name!r} (stored, left out of this write)"
    for name in df.columns:
        found = _null_in(df[name])
        if found is not None:
            return f"column {name!r}{found}"
    return None


def _null_in(series: pl.Series) -> str | None:
    if not isinstance(series.dtype, pl.Struct | pl.List):
        return None
    if series.null_count():
        return ""
    if isinstance(series.dtype, pl.Struct):
        for field in series.struct.unnest().iter_columns():
            found = _null_in(field)
            if found is not None:
                return f", field {field.name!r}{found}"
    return None


class ClickHouseDialect(SQLDialect):
    """ClickHouse: xxhash32/64 (decimal), md5/sha256 (hex); by-field columns are named Tuples."""

    name = "clickhouse"
    sqlglot_dialect = "clickhouse"
    hashers = {
        HashAlgorithm.XXHASH32: lambda e: function_call("toString", function_call("xxHash32", e)),
        HashAlgorithm.XXHASH64: lambda e: function_call("toString", function_call("xxHash64", e)),
        HashAlgorithm.MD5: lambda e: function_call("lower", function_call("hex", function_call("MD5", e))),
        HashAlgorithm.SHA256: lambda e: function_call(
            "lower", function_call("hex", function_call("SHA256", e))
        ),
    }

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return function_call("tupleElement", column, string_literal(field))

    computes_digest = True

    def to_text(self, value: exp.Expr) -> exp.Expr:
        return function_call("toString", value)

    def hex_to_int(self, hex_text: exp.Expr) -> exp.Expr:
        # unhex gives the bytes big-endian; reinterpretAsUInt32 reads them little-endian
        as_uint = function_call(
            "reinterpretAsUInt32", function_call("reverse", function_call("unhex", hex_text))
        )
        return function_call("toInt64", as_uint)

    def to_int64(self, value: exp.Expr) -> exp.Expr:
        return function_call("toInt64", value)

    def ordered_join(self, value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
        # groupArray skips NULLs, so values are coalesced first; arraySort(f, values, keys) sorts by keys
        key = order_by[0] if len(order_by) == 1 else function_call("tuple", *order_by)
        sorted_values = function_call(
            "arraySort",
            exp.Lambda(
                this=exp.column("__mx_k", quoted=True),
                expressions=[
                    exp.to_identifier("__mx_v", quoted=True),
                    exp.to_identifier("__mx_k", quoted=True),
                ],
            ),
            function_call("groupArray", exp.Coalesce(this=value, expressions=[string_literal("")])),
            function_call("groupArray", key),
        )
        return function_call("arrayStringConcat", sorted_values, string_literal(SEPARATOR))

    def _param_kind(self, value: Any) -> exp.Expr | None:
        if isinstance(value, bool):
            kind = "Bool"
        elif isinstance(value, int):
            kind = "Int64" if value < 2**63 else "UInt64"
        else:
            kind = "Float64" if isinstance(value, float) else "String"
        return exp.Var(this=kind)

    def compare(self, op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
        # ClickHouse compares NaN the IEEE way; Polars treats NaN as equal to itself and greater than
        # every number. So each comparison adds the NaN cases (known statically for bound values).
        if op in ("Gt", "GtEq"):
            op, left, right = {"Gt": "Lt", "GtEq": "LtEq"}[op], right, left
        if op in ("Eq", "NotEq"):
            left, right = _signless_zero(left, right)
        base = COMPARISONS["Eq" if op == "NotEq" else op](this=left, expression=right)
        nan_left, nan_right = _nan(left), _nan(right)
        extra: exp.Expr | None = None
        if op in ("Eq", "NotEq") and nan_left and nan_right:
            extra = _all(nan_left, nan_right)
        elif op == "Lt" and nan_right:  # a number is less than NaN
            extra = _all(_not(nan_left), nan_right)
        elif op == "LtEq" and nan_right:  # anything but null is at most NaN
            extra = _all(nan_right, _not(exp.Is(this=left.copy(), expression=exp.Null())))
        same = exp.Paren(this=exp.or_(base, extra) if extra is not None else base)
        return exp.Paren(this=exp.Not(this=same)) if op == "NotEq" else same

    def is_in(self, value: exp.Expr, items: list[exp.Expr]) -> exp.Expr:
        # IN compares floats by bits (-0.0 misses 0.0, NaN never matches): compare one by one instead
        if not any(isinstance(bound_value(i), float) for i in items):
            return super().is_in(value, items)
        return exp.Paren(this=exp.or_(*(self.compare("Eq", value.copy(), i) for i in items)))

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        return function_call("startsWith", value, prefix)  # a UTF-8 byte prefix is a character prefix

    def finalize(self, query: exp.Select) -> exp.Select:
        # SQL semantics for outer joins: unmatched columns are NULL, not the type's default value
        setting = exp.EQ(this=exp.column("join_use_nulls"), expression=exp.Literal.number(1))
        query.set("settings", [setting])
        return query


def _nan(node: exp.Expr) -> exp.Expr | None:
    """A condition true when ``node`` is NaN (``v != v``: NaN is the one value unequal to itself),
    or ``None`` when it cannot be NaN (a bound value other than NaN)."""
    if isinstance(node, exp.Placeholder) and BOUND_VALUE in node.meta:
        value = node.meta[BOUND_VALUE]
        return exp.true() if isinstance(value, float) and math.isnan(value) else None
    return exp.NEQ(this=node.copy(), expression=node.copy())


def _signless_zero(left: exp.Expr, right: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
    """Equality with a bound float, safe from ClickHouse rewriting ``x = a OR x = b ...`` into
    ``x IN (a, b)`` (which compares floats by bits, so -0.0 misses 0.0): the bound zero is +0.0 and
    the other side gets ``+ 0.0`` (which turns -0.0 into 0.0 and leaves every other value as it is)."""
    sides = [left, right]
    for i, side in enumerate(sides):
        value = bound_value(side)
        if isinstance(value, float) and not isinstance(value, bool):
            other = sides[1 - i]
            if bound_value(other) is None:
                sides[1 - i] = exp.Paren(this=exp.Add(this=other, expression=exp.Literal.number("0.0")))
            if value == 0.0:
                sides[i] = bound(0.0)
            break
    return sides[0], sides[1]


def _not(condition: exp.Expr | None) -> exp.Expr | None:
    """Negate a :func:`_nan` result: ``None`` ("never NaN") negates to ``None`` (read as "always" by
    :func:`_all`), TRUE to FALSE, a condition to ``NOT (condition)``."""
    if condition is None:
        return None
    if isinstance(condition, exp.Boolean):
        return None if not condition.this else exp.false()
    return exp.Not(this=exp.Paren(this=condition))


def _all(*conditions: exp.Expr | None) -> exp.Expr:
    """AND of the conditions; ``None`` and TRUE (always true) are left out."""
    kept = [c for c in conditions if c is not None and not (isinstance(c, exp.Boolean) and c.this)]
    return exp.and_(*kept) if kept else exp.true()
