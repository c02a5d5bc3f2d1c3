"""What Spark speaks: how Polars dtypes are held in Spark tables, Spark's schema JSON read back as Polars
dtypes, how an append's schema merges into the stored one, and the SQL dialect the versioning engine
renders for Spark SQL (:class:`SparkDialect`).

Pure functions (no session needed), so the generated SQL and the type rules are testable without Java.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlglot.expressions as exp

from metaxy.stores.schema_rule import DType, arrays_as_lists, as_instance, common_leaf, map_leaves
from metaxy.versioning.hashing import SEPARATOR, HashAlgorithm
from metaxy.versioning.sql.dialects import SQLDialect, function_call, string_literal

#: the SQL names the store registers its xxhash UDFs under (:mod:`metaxy.stores.spark.udfs`)
XXHASH_UDFS = {
    HashAlgorithm.XXHASH32: "metaxy_xxhash32",
    HashAlgorithm.XXHASH64: "metaxy_xxhash64",
}

_UNSIGNED_HOME: dict[pl.DataType, pl.DataType] = {
    pl.UInt8(): pl.Int16(),
    pl.UInt16(): pl.Int32(),
    pl.UInt32(): pl.Int64(),
}


def storage_type(dtype: DType) -> pl.DataType | str:
    """How a Spark table holds a Polars dtype (see ``docs/stores.md``, "Column types").

    Spark integers are signed, its timestamps hold microseconds (zone-aware ones as UTC instants,
    zone-less ones as ``TIMESTAMP_NTZ``), fixed-size arrays are lists, and a column of nulls only is
    held as text.
    """
    dtype = as_instance(dtype)
    if dtype == pl.Null:
        return pl.String()
    mapped = map_leaves(dtype, _leaf)
    return mapped if isinstance(mapped, str) else arrays_as_lists(mapped)


def _leaf(dtype: DType) -> pl.DataType | str:
    dtype = as_instance(dtype)
    if dtype in _UNSIGNED_HOME:
        return _UNSIGNED_HOME[dtype]
    if dtype == pl.UInt64 or dtype == pl.Int128 or dtype == pl.UInt128:
        return "Spark integers are signed 64-bit at most"
    if isinstance(dtype, pl.Duration | pl.Time):
        return "this store has no column type for it"
    if dtype == pl.Null:
        return pl.String()
    if dtype == pl.Float16:
        return pl.Float32()
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime):
        if dtype.time_unit == "ns":
            return "Spark timestamps hold microseconds (cast to Datetime('us') first)"
        return pl.Datetime("us", "UTC" if dtype.time_zone else None)
    return common_leaf(dtype)


# -- Spark's schema JSON (StructType.jsonValue()) ---------------------------------------------------

_SCALARS: dict[str, pl.DataType] = {
    "byte": pl.Int8(),
    "short": pl.Int16(),
    "integer": pl.Int32(),
    "long": pl.Int64(),
    "float": pl.Float32(),
    "double": pl.Float64(),
    "boolean": pl.Boolean(),
    "string": pl.String(),
    "binary": pl.Binary(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us", "UTC"),
    "timestamp_ntz": pl.Datetime("us"),
    "void": pl.Null(),
}


def polars_type(spark_type: Any) -> pl.DataType:
    """The Polars dtype a Spark type (its JSON form) reads back as."""
    if isinstance(spark_type, str):
        if spark_type.startswith("decimal"):
            precision, scale = spark_type[len("decimal(") : -1].split(",")
            return pl.Decimal(int(precision), int(scale))
        if spark_type.startswith(("char", "varchar")):
            return pl.String()
        return _SCALARS[spark_type]
    kind = spark_type["type"]
    if kind == "struct":
        return pl.Struct({f["name"]: polars_type(f["type"]) for f in spark_type["fields"]})
    if kind == "array":
        return pl.List(polars_type(spark_type["elementType"]))
    raise ValueError(f"Spark type {spark_type!r} has no Polars counterpart in this store")


def polars_schema(schema: dict[str, Any]) -> pl.Schema:
    """A Spark schema (``StructType.jsonValue()``) as the Polars schema its rows read back with."""
    return pl.Schema({f["name"]: polars_type(f["type"]) for f in schema["fields"]})


def nullable(spark_type: Any) -> Any:
    """A Spark type (JSON form) with every field and element nullable: files may hold nulls anywhere."""
    if not isinstance(spark_type, dict):
        return spark_type
    if spark_type["type"] == "struct":
        fields = [{**f, "nullable": True, "type": nullable(f["type"])} for f in spark_type["fields"]]
        return {**spark_type, "fields": fields}
    if spark_type["type"] == "array":
        return {**spark_type, "containsNull": True, "elementType": nullable(spark_type["elementType"])}
    return spark_type


def merge_schemas(stored: dict[str, Any] | None, written: dict[str, Any]) -> dict[str, Any]:
    """The table's schema after an append: stored columns in their order (widened to the written
    type, structs gaining fields), then the new ones. Both already follow the append-schema rule."""
    if stored is None:
        return written
    incoming = {f["name"]: f for f in written["fields"]}
    fields = []
    for field in stored["fields"]:
        new = incoming.pop(field["name"], None)
        fields.append(field if new is None else {**field, "type": _merge_type(field["type"], new["type"])})
    fields.extend(incoming.values())
    return {"type": "struct", "fields": fields}


def _merge_type(stored: Any, written: Any) -> Any:
    if (
        isinstance(stored, dict)
        and isinstance(written, dict)
        and stored["type"] == written["type"] == "struct"
    ):
        return merge_schemas(stored, written)
    if (
        isinstance(stored, dict)
        and isinstance(written, dict)
        and stored["type"] == written["type"] == "array"
    ):
        return {**written, "elementType": _merge_type(stored["elementType"], written["elementType"])}
    return written


# -- the SQL dialect ----------------------------------------------------------------------------------


class SparkDialect(SQLDialect):
    """Spark SQL: md5 and sha2 built in; xxhash through metaxy's own vectorised UDFs.

    Spark's ``xxhash64`` is seeded with 42 and returns a signed number, so its values differ from
    metaxy's; the store registers ``metaxy_xxhash32``/``metaxy_xxhash64`` (Arrow UDFs running metaxy's
    hashing in the executors) when it opens, and the resolution query calls them.
    """

    name = "spark"
    sqlglot_dialect = "spark"
    list_agg = "collect_list"
    hashers = {
        HashAlgorithm.MD5: lambda e: function_call("md5", e),
        HashAlgorithm.SHA256: lambda e: function_call("sha2", e, exp.Literal.number(256)),
        HashAlgorithm.XXHASH32: lambda e: function_call(XXHASH_UDFS[HashAlgorithm.XXHASH32], e),
        HashAlgorithm.XXHASH64: lambda e: function_call(XXHASH_UDFS[HashAlgorithm.XXHASH64], e),
    }
    computes_digest = True

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return exp.Dot(this=column, expression=exp.to_identifier(field, quoted=True))

    def ordered_join(self, value: exp.Expr, order_by: list[exp.Expr]) -> exp.Expr:  # type: ignore[override]
        """``collect_list`` has no order: collect (order keys..., value) structs, sort them, keep values."""
        pairs: list[exp.Expr] = []
        for i, key in enumerate(order_by):
            pairs += [string_literal(f"k{i}"), key]
        pairs += [string_literal("v"), exp.Coalesce(this=value, expressions=[string_literal("")])]
        collected = function_call(
            "array_sort", function_call("collect_list", function_call("named_struct", *pairs))
        )
        item = exp.to_identifier("__mx_x", quoted=True)
        values = function_call(
            "transform",
            collected,
            exp.Lambda(
                this=exp.Dot(this=exp.column(item), expression=exp.to_identifier("v", quoted=True)),
                expressions=[item],
            ),
        )
        return function_call("array_join", values, string_literal(SEPARATOR))

    def to_text(self, value: exp.Expr) -> exp.Expr:
        return exp.cast(value, "STRING")

    def hex_to_int(self, hex_text: exp.Expr) -> exp.Expr:
        return exp.cast(
            function_call("conv", hex_text, exp.Literal.number(16), exp.Literal.number(10)), "BIGINT"
        )

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        return function_call("startswith", value, prefix)
