"""Schema rules for appending to an existing table: which dtype differences are safe, which are errors."""

from __future__ import annotations

import polars as pl
from polars.datatypes import DataTypeClass

from metaxy.exceptions import SchemaError

DType = pl.DataType | DataTypeClass

#: dtypes that compare exactly, so a row can be matched on them (floats and nested types cannot)
_MATCHABLE = (pl.String, pl.Boolean, pl.Date, pl.Datetime, pl.Binary)


def check_schema(df: pl.DataFrame, stored: pl.Schema | None, *, where: str) -> pl.DataFrame:
    """Conform ``df`` to an existing table schema, or raise :class:`SchemaError`.

    New columns and new struct fields are allowed (the table merges them). A column whose dtype
    differs is cast when the change is lossless in kind (integer width/sign, float width, an all-null
    column); any other change is an error, so nothing is written.
    """
    casts = []
    for name, dtype in df.schema.items():
        old = stored.get(name) if stored is not None else None
        if old is None:
            if dtype == pl.Null:  # Delta has no null type; store an all-null column as strings
                casts.append(pl.col(name).cast(pl.String))
            continue
        if dtype == old or (_is_nested(old) and _compatible(dtype, old)):
            continue
        if not _compatible(dtype, old):
            raise SchemaError(
                f"{where}: column {name!r} is stored as {old} but the written frame has {dtype}.",
                hint=f"Cast {name!r} to {old} before writing, or write the feature under a new key.",
            )
        casts.append(pl.col(name).cast(old, strict=True))
    return df.with_columns(casts) if casts else df


def _compatible(new: DType, old: DType) -> bool:
    if new == old or new == pl.Null:
        return True
    if new.is_integer() and old.is_integer():
        return True
    if new.is_float() and old.is_float():
        return True
    if isinstance(new, pl.Struct) and isinstance(old, pl.Struct):
        stored = {f.name: f.dtype for f in old.fields}
        return all(_compatible(f.dtype, stored[f.name]) for f in new.fields if f.name in stored)
    if isinstance(new, pl.List) and isinstance(old, pl.List):
        return _compatible(new.inner, old.inner)
    if isinstance(new, pl.Datetime) and isinstance(old, pl.Datetime):
        return new.time_zone == old.time_zone
    return False


def _is_nested(dtype: DType) -> bool:
    return isinstance(dtype, pl.Struct | pl.List)


def identity_columns(schema: pl.Schema) -> list[str]:
    """Columns that together identify a stored row exactly (every scalar column of exact dtype)."""
    return [name for name, dtype in schema.items() if dtype.is_integer() or isinstance(dtype, _MATCHABLE)]
