"""What DuckDB speaks: how Polars dtypes are held, the DDL an append needs (new or widened columns), and
the SQL dialect the versioning engine renders for it."""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlglot.expressions as exp

from metaxy.exceptions import SchemaError
from metaxy.stores.schema_rule import DType, as_instance, common_leaf, map_leaves, supertype
from metaxy.versioning.hashing import HashAlgorithm
from metaxy.versioning.sql.dialects import SQLDialect, function_call, string_literal


def plan_evolution(where: str, table: pl.Schema, incoming: pl.Schema) -> dict[str, Any]:
    """Columns to add and columns to widen (by name -> the Polars dtype they need).

    ``incoming`` already follows the append-schema rule, so a changed column is the stored one
    widened; anything else (a concurrent writer changed the table) is refused.

    Raises:
        SchemaError: a column's stored dtype cannot widen to the written one.
    """
    changes: dict[str, Any] = {}
    for name, dtype in incoming.items():
        stored = table.get(name)
        if stored is None:
            changes[name] = dtype
        elif stored != dtype:
            if supertype(stored, dtype) != dtype:
                raise SchemaError(
                    f"{where}: column {name!r} is stored as {stored} but the new rows have {dtype}.",
                    hint="Cast the column to the stored dtype before writing (or write under a new feature key).",
                )
            changes[name] = dtype
    return changes


def storage_type(dtype: DType) -> pl.DataType | str:
    """How DuckDB holds a Polars dtype (see ``docs/stores.md``, "Column types")."""
    return map_leaves(dtype, _leaf)


def _leaf(dtype: DType) -> pl.DataType | str:
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.Duration):
        return "DuckDB INTERVALs read back through Arrow as a type Polars cannot load"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return pl.Datetime("ns" if dtype.time_unit == "ns" else "us", "UTC")  # TIMESTAMPTZ: UTC instants
    return common_leaf(dtype)


class DuckDBDialect(SQLDialect):
    """DuckDB: md5 and sha256 built in (xxhash would need an extension download: never)."""

    name = "duckdb"
    sqlglot_dialect = "duckdb"
    list_agg = "list"
    hashers = {
        HashAlgorithm.MD5: lambda e: function_call("md5", e),
        HashAlgorithm.SHA256: lambda e: function_call("sha256", e),
    }

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        # struct_extract with a literal name is exactly `col.field`, but safe for any field name
        return function_call("struct_extract", column, string_literal(field))

    computes_digest = True

    def hex_to_int(self, hex_text: exp.Expr) -> exp.Expr:
        return exp.cast(exp.DPipe(this=string_literal("0x"), expression=hex_text, safe=True), "BIGINT")
