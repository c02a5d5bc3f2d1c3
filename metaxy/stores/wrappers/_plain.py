"""Column values as bytes and back, exactly, for encryption one value at a time.

A value's bytes start with a tag: ``s`` a string (UTF-8), ``b`` raw binary, ``j`` anything else as a
JSON line naming its Polars type, then the value in JSON. Temporal values travel as their integer
form and decimals as text, so nothing is rounded; floats keep NaN, infinities and ``-0.0``.
Categorical and enum columns come back as strings (the type the append-schema rule widens them to).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from metaxy.stores.schema_rule import DType, as_instance

_SCALAR_NAMES = (
    "Boolean", "Int8", "Int16", "Int32", "Int64", "Int128", "UInt8", "UInt16", "UInt32", "UInt64", "UInt128",
    "Float32", "Float64", "String", "Binary", "Date", "Time", "Null",
)  # fmt: skip
_SCALARS = {name: getattr(pl, name) for name in _SCALAR_NAMES if hasattr(pl, name)}


def encode_values(series: pl.Series) -> list[bytes | None]:
    """Each value of ``series`` as tagged bytes (``None`` for a null)."""
    dtype = as_instance(series.dtype)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        series, dtype = series.cast(pl.String), pl.String()
    if dtype == pl.String:
        return [None if v is None else b"s" + v.encode() for v in series.to_list()]
    if dtype == pl.Binary:
        return [None if v is None else b"b" + v for v in series.to_list()]
    header = b"j" + json.dumps(dtype_to_json(dtype)).encode() + b"\n"
    values = series.cast(_wire_type(dtype)).to_list()
    return [None if v is None else header + json.dumps(v, default=_to_json).encode() for v in values]


def decode_values(
    name: str, values: Sequence[bytes | None]
) -> list[tuple[pl.DataType, pl.Series, list[int]]]:
    """Decoded values grouped by type: ``(type, series, positions)`` per type met (written types may
    differ when later writes widened a column); the caller combines them."""
    present = [v for v in values if v is not None]
    if all(v[:1] == b"s" for v in present):  # a string column: the common case, kept tight
        strings = [None if v is None else v[1:].decode() for v in values]
        return (
            [(pl.String(), pl.Series(name, strings, dtype=pl.String), list(range(len(values))))]
            if present
            else []
        )
    groups: dict[bytes, list[int]] = {}
    for i, value in enumerate(values):
        if value is not None:
            head = value[:1] if value[:1] != b"j" else value[: value.index(b"\n") + 1]
            groups.setdefault(head, []).append(i)
    decoded = []
    for head, positions in groups.items():
        if head == b"s":
            dtype: pl.DataType = pl.String()
            series = pl.Series(name, [values[i][1:].decode() for i in positions], dtype=pl.String)  # type: ignore[index]
        elif head == b"b":
            dtype = pl.Binary()
            series = pl.Series(name, [values[i][1:] for i in positions], dtype=pl.Binary)  # type: ignore[index]
        else:
            dtype = dtype_from_json(json.loads(head[1:]))
            items = [json.loads(values[i][len(head) :], object_hook=_from_json) for i in positions]  # type: ignore[index]
            series = pl.Series(name, items, dtype=_wire_type(dtype), strict=True).cast(dtype)
        decoded.append((dtype, series, positions))
    return decoded


def _wire_type(dtype: DType) -> pl.DataType:
    """The type values travel as: temporal types as their integers, decimals as text."""
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.Datetime | pl.Duration | pl.Time):
        return pl.Int64()
    if isinstance(dtype, pl.Date):
        return pl.Int32()
    if isinstance(dtype, pl.Decimal | pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _wire_type(f.dtype) for f in dtype.fields})
    if isinstance(dtype, pl.Array):
        return pl.Array(_wire_type(dtype.inner), dtype.shape)  # type: ignore[arg-type]
    if isinstance(dtype, pl.List):
        return pl.List(_wire_type(dtype.inner))  # type: ignore[arg-type]
    return dtype


def dtype_to_json(dtype: DType) -> Any:
    """A Polars type as plain JSON data (``dtype_from_json`` reads it back)."""
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.Datetime):
        return ["Datetime", dtype.time_unit, dtype.time_zone]
    if isinstance(dtype, pl.Duration):
        return ["Duration", dtype.time_unit]
    if isinstance(dtype, pl.Decimal):
        return ["Decimal", dtype.precision, dtype.scale]
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return ["String"]
    if isinstance(dtype, pl.Struct):
        return ["Struct", [[f.name, dtype_to_json(f.dtype)] for f in dtype.fields]]
    if isinstance(dtype, pl.Array):
        return ["Array", dtype_to_json(dtype.inner), list(dtype.shape)]  # type: ignore[arg-type]
    if isinstance(dtype, pl.List):
        return ["List", dtype_to_json(dtype.inner)]  # type: ignore[arg-type]
    name = type(dtype).__name__
    if name not in _SCALARS:
        raise TypeError(f"values of type {dtype} cannot be encrypted")
    return [name]


def dtype_from_json(data: Any) -> pl.DataType:
    """The Polars type ``dtype_to_json`` described."""
    name, *args = data
    if name == "Datetime":
        return pl.Datetime(args[0], args[1])
    if name == "Duration":
        return pl.Duration(args[0])
    if name == "Decimal":
        return pl.Decimal(args[0], args[1])
    if name == "Struct":
        return pl.Struct({field: dtype_from_json(inner) for field, inner in args[0]})
    if name == "Array":
        return pl.Array(dtype_from_json(args[0]), tuple(args[1]))
    if name == "List":
        return pl.List(dtype_from_json(args[0]))
    return as_instance(_SCALARS[name])


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _from_json(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$b" in obj:
        return base64.b64decode(obj["$b"])
    if len(obj) == 1 and "$d" in obj:
        return obj["$d"]
    return obj
