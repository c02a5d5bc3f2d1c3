"""Delta column types: how Polars dtypes are held, which appends widen a stored column, row identity."""

from __future__ import annotations

import polars as pl

from metaxy.stores.schema_rule import (
    DType,
    arrays_as_lists,
    as_instance,
    common_leaf,
    map_leaves,
    microsecond_timestamp,
)

#: dtypes that compare exactly, so a row can be matched on them (floats and nested types cannot)
_MATCHABLE = (pl.String, pl.Boolean, pl.Date, pl.Datetime, pl.Binary)


def widened_columns(df: pl.DataFrame, stored: pl.Schema | None) -> dict[str, pl.DataType]:
    """Stored columns the write widens (append-schema rule), by name -> new dtype.

    Struct columns that only gain fields are left out: Delta's schema merge adds fields itself.
    """
    if stored is None:
        return {}
    return {
        name: dtype
        for name, dtype in df.schema.items()
        if name in stored and stored[name] != dtype and not _adds_fields_only(stored[name], dtype)
    }


def _adds_fields_only(old: pl.DataType, new: pl.DataType) -> bool:
    if not (isinstance(old, pl.Struct) and isinstance(new, pl.Struct)):
        return False
    have = {f.name: f.dtype for f in new.fields}
    return all(f.name in have and have[f.name] == f.dtype for f in old.fields)


def identity_columns(schema: pl.Schema) -> list[str]:
    """Columns that together identify a stored row exactly (every scalar column of exact dtype)."""
    return [name for name, dtype in schema.items() if dtype.is_integer() or isinstance(dtype, _MATCHABLE)]


_UNSIGNED_HOME: dict[pl.DataType, pl.DataType] = {
    pl.UInt8(): pl.Int16(),
    pl.UInt16(): pl.Int32(),
    pl.UInt32(): pl.Int64(),
}


def storage_type(dtype: DType) -> pl.DataType | str:
    """How a Delta table holds a Polars dtype (see ``docs/stores.md``, "Column types").

    Fixed-size arrays are held as lists: deltalake writes them, but Polars cannot read them back.
    """
    mapped = map_leaves(dtype, _leaf)
    return mapped if isinstance(mapped, str) else arrays_as_lists(mapped)


def _leaf(dtype: DType) -> pl.DataType | str:
    dtype = as_instance(dtype)
    if dtype in _UNSIGNED_HOME:  # Delta integers are signed: the next wider one holds every value
        return _UNSIGNED_HOME[dtype]
    if dtype == pl.UInt64:
        return "Delta integers are signed 64-bit at most"
    if isinstance(dtype, pl.Duration | pl.Time):
        return "the Delta protocol has no duration or time-of-day type"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime):
        return microsecond_timestamp(dtype, "Delta")
    return common_leaf(dtype)
