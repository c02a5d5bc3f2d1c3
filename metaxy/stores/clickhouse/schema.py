"""ClickHouse SQL text: quoting, Polars → ClickHouse types, DDL (local and ``ON CLUSTER``).

Pure functions returning SQL strings, so the generated text (cluster DDL included) is testable without a
server. Identifiers are always quoted; values are bound as ``{name:Type}`` parameters, never formatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from metaxy.exceptions import SchemaError
from metaxy.stores.schema_rule import DType, arrays_as_lists, as_instance, common_leaf, map_leaves

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
