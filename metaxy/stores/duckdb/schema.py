"""Schema evolution on append for DuckDB: add new columns, widen structs, refuse changed dtypes."""

from __future__ import annotations

from typing import Any

import polars as pl

from metaxy.exceptions import SchemaError

_INTS: dict[Any, tuple[int, bool]] = {
    pl.Int8: (8, True),
    pl.Int16: (16, True),
    pl.Int32: (32, True),
    pl.Int64: (64, True),
    pl.UInt8: (8, False),
    pl.UInt16: (16, False),
    pl.UInt32: (32, False),
    pl.UInt64: (64, False),
}


def fits(src: Any, dst: Any) -> bool:
    """Whether values of ``src`` can be stored in a column of ``dst`` without loss."""
    if src == dst or src == pl.Null:
        return True
    if src.base_type() in _INTS and dst.base_type() in _INTS:
        (sb, ss), (db, ds) = _INTS[src.base_type()], _INTS[dst.base_type()]
        return (ss == ds and db >= sb) or (ds and not ss and db > sb)
    if src == pl.Float32 and dst == pl.Float64:
        return True
    if isinstance(src, pl.Struct) and isinstance(dst, pl.Struct):
        target = {f.name: f.dtype for f in dst.fields}
        return all(f.name in target and fits(f.dtype, target[f.name]) for f in src.fields)
    return False


def widened_struct(src: pl.Struct, dst: pl.Struct) -> pl.Struct | None:
    """``dst`` plus the fields only ``src`` has, when the shared fields agree; else None."""
    target = {f.name: f.dtype for f in dst.fields}
    if not all(fits(f.dtype, target[f.name]) for f in src.fields if f.name in target):
        return None
    extra = [f for f in src.fields if f.name not in target]
    return pl.Struct([*dst.fields, *extra])


def plan_evolution(where: str, table: pl.Schema, incoming: pl.Schema) -> dict[str, Any]:
    """Columns to add and struct columns to widen, by name -> the Polars dtype they need.

    Raises:
        SchemaError: a column changed to a dtype the stored one cannot hold.
    """
    changes: dict[str, Any] = {}
    for name, dtype in incoming.items():
        stored = table.get(name)
        if stored is None:
            changes[name] = dtype
        elif fits(dtype, stored):
            continue
        elif isinstance(dtype, pl.Struct) and isinstance(stored, pl.Struct) and widened_struct(dtype, stored):
            changes[name] = widened_struct(dtype, stored)
        else:
            raise SchemaError(
                f"{where}: column {name!r} is stored as {stored} but the new rows have {dtype}.",
                hint="Cast the column to the stored dtype before writing (or write under a new feature key).",
            )
    return changes
