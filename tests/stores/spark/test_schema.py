"""The Spark store's pure parts (no session, no Java): the SQL it renders and its type rules."""

from __future__ import annotations

import polars as pl
import sqlglot.expressions as exp

from metaxy.stores.backends import sql_dialect
from metaxy.stores.spark.schema import merge_schemas, nullable, polars_schema, storage_type
from metaxy.versioning.hashing import HashSettings
from metaxy.versioning.sql.engine import col

TEXT = exp.Literal.string("x")


def test_hashes_render_as_spark_builtins_or_metaxys_udfs() -> None:
    spark = sql_dialect("spark")
    rendered = {
        algorithm: spark.render(exp.select(spark.hash(TEXT, HashSettings(algorithm, 8))))
        for algorithm in ("md5", "sha256", "xxhash32", "xxhash64")
    }
    assert rendered == {
        "md5": "SELECT SUBSTRING(MD5('x'), 1, 8)",
        "sha256": "SELECT SUBSTRING(SHA2('x', 256), 1, 8)",
        "xxhash32": "SELECT SUBSTRING(METAXY_XXHASH32('x'), 1, 8)",  # Spark's function names are case-blind
        "xxhash64": "SELECT SUBSTRING(METAXY_XXHASH64('x'), 1, 8)",
    }


def test_ordered_join_sorts_collected_structs_and_reads_struct_fields_by_name() -> None:
    spark = sql_dialect("spark")
    joined = spark.render(exp.select(spark.ordered_join(col("v"), [col("id")])))
    assert joined == (
        "SELECT ARRAY_JOIN(TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT('k0', `id`, 'v', "
        "COALESCE(`v`, '')))), `__mx_x` -> `__mx_x`.`v`), '|')"
    )
    assert spark.render(exp.select(spark.struct_field(col("by_field"), "a b"))) == "SELECT `by_field`.`a b`"


def test_stored_types_follow_the_documented_rules() -> None:
    assert storage_type(pl.UInt32) == pl.Int64
    assert isinstance(storage_type(pl.UInt64), str)
    assert storage_type(pl.Datetime("us")) == pl.Datetime("us")  # TIMESTAMP_NTZ
    assert storage_type(pl.Datetime("ms", "Europe/Paris")) == pl.Datetime("us", "UTC")
    assert isinstance(storage_type(pl.Datetime("ns")), str)
    assert storage_type(pl.Array(pl.Int64, 2)) == pl.List(pl.Int64)
    assert storage_type(pl.Struct({"e": pl.Enum(["a"])})) == pl.Struct({"e": pl.String})
    assert storage_type(pl.Null) == pl.String


def test_the_schema_grows_and_widens_but_keeps_the_stored_order() -> None:
    def field(name: str, kind: object) -> dict[str, object]:
        return {"name": name, "type": kind, "nullable": False, "metadata": {}}

    stored = {
        "type": "struct",
        "fields": [field("id", "integer"), field("s", {"type": "struct", "fields": [field("a", "string")]})],
    }
    written = {
        "type": "struct",
        "fields": [
            field("new", "double"),
            field("id", "long"),
            field("s", {"type": "struct", "fields": [field("b", "string")]}),
        ],
    }
    merged = nullable(merge_schemas(nullable(stored), nullable(written)))
    assert polars_schema(merged) == pl.Schema(
        {"id": pl.Int64, "s": pl.Struct({"a": pl.String, "b": pl.String}), "new": pl.Float64}
    )
    assert all(f["nullable"] for f in merged["fields"])
