"""The one append-schema rule every store follows, and the write-time checks of a frame's columns.

The rule, applied column by column before a backend sees the rows:

* A column's first write fixes its type: the type the store holds it as (see ``StorageTypes``: a
  backend may hold a type exactly, as a documented lossless wider type, or refuse it).
* A later write may use the same type, or a type with a lossless common supertype: integers by width
  (``Int8 → Int16 → Int32 → Int64``; ``UIntN`` into ``UIntM``, M ≥ N, or into ``IntM``, M > N),
  ``Float32 → Float64``, ``Datetime("ms") → Datetime("us")`` (same time zone), ``Categorical``/``Enum``
  → ``String``, ``Array → List``, and nested types field by field. The written rows are cast to the
  supertype; when it is wider than the stored type, the store widens the column first.
  Integers never become floats, and strings never become numbers.
* An all-null column (``pl.Null``) takes the stored type, or is stored as ``String`` when new.
* New columns (and new struct fields) are allowed: older rows read them as null. Columns the write
  leaves out are null in its rows (id and system columns are always written).
* Anything else raises :class:`~metaxy.exceptions.SchemaError` naming the column, the stored type, the
  written type, and what to do, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl
from polars.datatypes import DataTypeClass

from metaxy.constants import (
    CREATED_AT,
    DATA_VERSION,
    DELETED_AT,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROJECT_VERSION,
    PROVENANCE,
    UPDATED_AT,
)
from metaxy.exceptions import SchemaError

#: a Polars dtype as found in schemas and struct fields (an instance or, for nested fields, a class)
DType = pl.DataType | DataTypeClass

#: a backend's answer for one dtype: the type it reads back (itself when exact), or a refusal reason
StorageTypes = Callable[[DType], "pl.DataType | str"]

_INTS: dict[pl.DataType, tuple[int, bool]] = {
    pl.Int8(): (8, True),
    pl.Int16(): (16, True),
    pl.Int32(): (32, True),
    pl.Int64(): (64, True),
    pl.UInt8(): (8, False),
    pl.UInt16(): (16, False),
    pl.UInt32(): (32, False),
    pl.UInt64(): (64, False),
}
_SIGNED = {8: pl.Int8(), 16: pl.Int16(), 32: pl.Int32(), 64: pl.Int64()}
_UNSIGNED = {8: pl.UInt8(), 16: pl.UInt16(), 32: pl.UInt32(), 64: pl.UInt64()}
_UNIT_ORDER = {"ms": 0, "us": 1}  # ms widens to us; ns never changes unit (its range is smaller)

TIMESTAMP = pl.Datetime("us", "UTC")
#: system columns metaxy fills in itself: the type a user-supplied value must have
SYSTEM_TYPES: dict[str, pl.DataType] = {
    PROVENANCE: pl.String(),
    DATA_VERSION: pl.String(),
    FEATURE_VERSION: pl.String(),
    PROJECT_VERSION: pl.String(),
    MATERIALIZATION_ID: pl.String(),
    CREATED_AT: TIMESTAMP,
    UPDATED_AT: TIMESTAMP,
    DELETED_AT: TIMESTAMP,
}


def supertype(stored: DType, written: DType) -> pl.DataType | None:
    """The type a column holds after ``written`` rows are appended to ``stored`` ones; None: refused."""
    stored, written = as_instance(stored), as_instance(written)
    if stored == written or written == pl.Null:
        return stored
    if stored == pl.Null:
        return written
    if stored in _INTS and written in _INTS:
        return _int_supertype(_INTS[stored], _INTS[written])
    if stored.is_float() and written.is_float():
        return pl.Float64()
    if isinstance(stored, pl.Datetime) and isinstance(written, pl.Datetime):
        return _datetime_supertype(stored, written)
    if _is_text(stored) and _is_text(written):
        return pl.String()
    if isinstance(stored, pl.Struct) and isinstance(written, pl.Struct):
        return _struct_supertype(stored, written)
    if isinstance(stored, pl.List | pl.Array) and isinstance(written, pl.List | pl.Array):
        return _list_supertype(stored, written)
    return None


def _int_supertype(a: tuple[int, bool], b: tuple[int, bool]) -> pl.DataType | None:
    (bits_a, signed_a), (bits_b, signed_b) = a, b
    if signed_a == signed_b:
        return (_SIGNED if signed_a else _UNSIGNED)[max(bits_a, bits_b)]
    unsigned_bits = bits_b if signed_a else bits_a
    bits = max(bits_a, bits_b, 2 * unsigned_bits)
    return _SIGNED.get(bits)  # an unsigned 64-bit value has no signed home


def _datetime_supertype(a: pl.Datetime, b: pl.Datetime) -> pl.DataType | None:
    if a.time_zone != b.time_zone or a.time_unit not in _UNIT_ORDER or b.time_unit not in _UNIT_ORDER:
        return None
    unit = max(a.time_unit, b.time_unit, key=lambda u: _UNIT_ORDER[u])
    return pl.Datetime(unit, a.time_zone)


def as_instance(dtype: DType) -> pl.DataType:
    """A dtype as an instance (struct fields and list items may hold the bare class)."""
    return dtype() if isinstance(dtype, type) else dtype


def _is_text(dtype: DType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _struct_supertype(stored: pl.Struct, written: pl.Struct) -> pl.DataType | None:
    fields = {f.name: f.dtype for f in stored.fields}
    for field in written.fields:
        if field.name not in fields:
            fields[field.name] = pl.String() if field.dtype == pl.Null else field.dtype
            continue
        merged = supertype(fields[field.name], field.dtype)
        if merged is None:
            return None
        fields[field.name] = merged
    return pl.Struct(fields)


def _list_supertype(stored: pl.List | pl.Array, written: pl.List | pl.Array) -> pl.DataType | None:
    inner = supertype(stored.inner, written.inner)  # type: ignore[arg-type]
    if inner is None:
        return None
    if isinstance(stored, pl.Array) and isinstance(written, pl.Array) and stored.shape == written.shape:
        return pl.Array(inner, stored.shape)
    return pl.List(inner)


def cast_expr(name: str, expr: pl.Expr, source: DType, target: DType) -> pl.Expr:
    """``expr`` (of ``source``) as ``target``: structs are rebuilt field by field by name, so a struct
    with fewer or reordered fields lands in the right places; a null struct stays null."""
    source, target = as_instance(source), as_instance(target)
    if source == target:
        return expr
    if isinstance(target, pl.Struct) and isinstance(source, pl.Struct):
        have = {f.name: f.dtype for f in source.fields}
        parts = [
            (
                cast_expr(f.name, expr.struct.field(f.name), have[f.name], f.dtype)
                if f.name in have
                else pl.lit(None, f.dtype)
            ).alias(f.name)
            for f in target.fields
        ]
        return pl.when(expr.is_null()).then(pl.lit(None, target)).otherwise(pl.struct(parts)).alias(name)
    if isinstance(target, pl.List) and isinstance(source, pl.List | pl.Array):
        listed = expr.arr.to_list() if isinstance(source, pl.Array) else expr
        if source.inner == target.inner:
            return listed.alias(name)
        inner = cast_expr("", pl.element(), source.inner, target.inner)  # type: ignore[arg-type]
        return listed.list.eval(inner).alias(name)
    return expr.cast(target, strict=True).alias(name)


def conform(df: pl.DataFrame, stored: Mapping[str, pl.DataType] | None, *, where: str) -> pl.DataFrame:
    """``df`` with every column cast to the type the table holds after this write (see module doc).

    Raises:
        SchemaError: a column's written type has no lossless supertype with its stored type.
    """
    casts = []
    for name, written in df.schema.items():
        old = stored.get(name) if stored is not None else None
        target = _new_column_type(written) if old is None else supertype(old, written)
        if target is None:
            raise SchemaError(
                f"{where}: column {name!r} is stored as {old} but the written frame has {written}.",
                hint=f"Cast {name!r} to {old} (or a type that widens into it without loss) before "
                "writing, or store the values under a new column name or feature key.",
            )
        if target != written:
            casts.append(cast_expr(name, pl.col(name), written, target))
    return df.with_columns(casts) if casts else df


def _new_column_type(dtype: DType) -> pl.DataType:
    dtype = as_instance(dtype)
    if dtype == pl.Null:  # no type to fix yet: an all-null column is stored as strings everywhere
        return pl.String()
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _new_column_type(f.dtype) for f in dtype.fields})
    if isinstance(dtype, pl.List):
        return pl.List(_new_column_type(dtype.inner))  # type: ignore[arg-type]
    return dtype


def to_storage(df: pl.DataFrame, storage: StorageTypes, *, where: str) -> pl.DataFrame:
    """``df`` cast to the types the backend holds (documented lossless widenings), or SchemaError."""
    casts = []
    for name, dtype in df.schema.items():
        target = storage(dtype)
        if isinstance(target, str):
            raise SchemaError(
                f"{where}: column {name!r} has type {dtype}, which this store cannot hold: {target}.",
                hint=f"Cast {name!r} to a type the store supports (see docs/stores.md, 'Column types') "
                "before writing.",
            )
        if target != dtype:
            casts.append(cast_expr(name, pl.col(name), dtype, target))
    return df.with_columns(casts) if casts else df


def map_leaves(dtype: DType, leaf: Callable[[DType], pl.DataType | str]) -> pl.DataType | str:
    """Apply ``leaf`` to every scalar inside ``dtype`` (structs, lists, arrays kept); a str refuses."""
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.Struct):
        fields = {}
        for field in dtype.fields:
            mapped = map_leaves(field.dtype, leaf)
            if isinstance(mapped, str):
                return f"struct field {field.name!r}: {mapped}"
            fields[field.name] = mapped
        return pl.Struct(fields)
    if isinstance(dtype, pl.List | pl.Array):
        inner = map_leaves(dtype.inner, leaf)  # type: ignore[arg-type]
        if isinstance(inner, str):
            return inner
        return pl.Array(inner, dtype.shape) if isinstance(dtype, pl.Array) else pl.List(inner)
    return leaf(dtype)


def arrays_as_lists(dtype: DType) -> pl.DataType:
    """``dtype`` with every fixed-size array, at any depth, turned into a list."""
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.Array | pl.List):
        return pl.List(arrays_as_lists(dtype.inner))  # type: ignore[arg-type]
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: arrays_as_lists(f.dtype) for f in dtype.fields})
    return dtype


def microsecond_timestamp(dtype: pl.Datetime, backend: str) -> pl.DataType | str:
    """How a backend holding microsecond timestamps (zone-aware ones as UTC) stores ``dtype``."""
    if dtype.time_unit == "ns":
        return f"{backend} timestamps hold microseconds (cast to Datetime('us') first)"
    return pl.Datetime("us", None if dtype.time_zone is None else "UTC")


def common_leaf(dtype: DType) -> pl.DataType | str:
    """What no store can hold: Python objects (stored as memory addresses by some backends)."""
    dtype = as_instance(dtype)
    if dtype == pl.Object:
        return "Python objects have no stored form (some backends would keep memory addresses)"
    return dtype


def check_system_columns(df: pl.DataFrame, *, where: str) -> None:
    """User-supplied system columns have the types metaxy writes; versions are non-null strings."""
    for name, expected in SYSTEM_TYPES.items():
        if name not in df.columns:
            continue
        dtype = df.schema[name]
        if dtype != expected and not (name == DELETED_AT and dtype == pl.Null):
            raise SchemaError(
                f"{where}: system column {name!r} is {dtype}, expected {expected}.",
                hint=f"Leave {name!r} out and metaxy fills it in, or give it as {expected}.",
            )
        if name != DELETED_AT and df.height and df[name].null_count():
            raise SchemaError(
                f"{where}: system column {name!r} has {df[name].null_count()} null value(s).",
                hint=f"Leave {name!r} out and metaxy fills it in.",
            )


def check_column_names(names: list[str], *, max_bytes: int | None, plain: bool = False, where: str) -> None:
    """Column names a store would rename or truncate are refused (``max_bytes``: the store's limit).

    ``plain``: the store writes names into SQL text (DDL), so quotes, backslashes, control
    characters and surrounding spaces are refused too.
    """
    for name in names:
        if not name:
            raise SchemaError(
                f"{where}: column name '' cannot be stored (some stores rename an empty name, e.g. to 'v0').",
                hint="Give the column a name.",
            )
        if max_bytes is not None and len(name.encode()) > max_bytes:
            raise SchemaError(
                f"{where}: column name {name[:20]!r}... is {len(name.encode())} bytes; this store keeps "
                f"at most {max_bytes} bytes of a column name and would truncate it.",
                hint=f"Rename the column to at most {max_bytes} bytes.",
            )
        if plain and (any(ch in name for ch in "\"'`\\\x00\n\r") or name != name.strip()):
            raise SchemaError(
                f"{where}: column name {name!r} cannot be stored in a SQL table.",
                hint="Rename the column to letters, digits, '_' or spaces (no quotes, backslashes or control characters).",
            )
