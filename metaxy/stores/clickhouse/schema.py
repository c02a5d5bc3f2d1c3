"""ClickHouse SQL text: quoting, Polars → ClickHouse types, DDL (local and ``ON CLUSTER``).

Pure functions returning SQL strings, so the generated text (cluster DDL included) is testable without a
server. Identifiers are always quoted; values are bound as ``{name:Type}`` parameters, never formatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from metaxy.exceptions import SchemaError

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
