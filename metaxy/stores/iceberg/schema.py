"""What Iceberg speaks: how Polars dtypes are held, partition transforms, and filters as Iceberg expressions."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from metaxy.exceptions import ConfigError
from metaxy.stores.schema_rule import (
    DType,
    arrays_as_lists,
    as_instance,
    common_leaf,
    map_leaves,
    microsecond_timestamp,
)

#: transforms a partition field may use: ``name(column)`` or ``name(n, column)``
TRANSFORMS = ("identity", "year", "month", "day", "hour", "bucket", "truncate")
_FIELD = re.compile(r"^\s*(\w+)\s*\(\s*(?:(\d+)\s*,\s*)?([^()\s,]+)\s*\)\s*$")


@dataclass(frozen=True)
class PartitionField:
    """One level of an Iceberg partition spec: a transform of a source column."""

    source: str
    transform: str = "identity"
    width: int | None = None

    @property
    def name(self) -> str:
        """The partition field's name (``captured_at_day``, ``sample_uid_bucket_16``)."""
        if self.transform == "identity":
            return self.source
        suffix = f"_{self.width}" if self.width is not None else ""
        return f"{self.source}_{self.transform}{suffix}"

    def to_pyiceberg(self) -> Any:
        """The PyIceberg transform object."""
        transforms: Any = importlib.import_module("pyiceberg.transforms")
        if self.width is not None:
            return getattr(transforms, f"{self.transform.capitalize()}Transform")(self.width)
        return getattr(transforms, f"{self.transform.capitalize()}Transform")()


def parse_partition_by(spec: Sequence[str] | str | None, *, where: str) -> tuple[PartitionField, ...]:
    """Partition fields from ``["dataset", "day(captured_at)", "bucket(16, sample_uid)"]``.

    Raises:
        ConfigError: an entry that is not ``column`` or ``transform([n, ]column)`` with a known transform.
    """
    if isinstance(spec, str):
        spec = [spec]
    fields = []
    for entry in spec or ():
        text = str(entry)
        match = _FIELD.match(text)
        if match is None and re.fullmatch(r"[^()\s,]+", text):
            fields.append(PartitionField(text))
            continue
        transform, width, source = match.groups() if match else (None, None, None)
        needs_width = transform in ("bucket", "truncate")
        if transform not in TRANSFORMS or needs_width != (width is not None) or source is None:
            raise ConfigError(
                f"{where}: partition field {text!r} is not a column or one of "
                f"{', '.join(t + '(...)' for t in TRANSFORMS)}.",
                hint='Write e.g. partition_by=["dataset", "day(captured_at)", "bucket(16, sample_uid)"].',
            )
        fields.append(PartitionField(source, transform, int(width) if width else None))
    return tuple(fields)


# -- column types ---------------------------------------------------------------------------------

_WIDER_INT: dict[pl.DataType, pl.DataType] = {
    pl.Int8(): pl.Int32(),
    pl.Int16(): pl.Int32(),
    pl.UInt8(): pl.Int32(),
    pl.UInt16(): pl.Int32(),
    pl.UInt32(): pl.Int64(),
}


def storage_type(dtype: DType) -> pl.DataType | str:
    """How an Iceberg table holds a Polars dtype (see ``docs/stores.md``, "Column types")."""
    mapped = map_leaves(dtype, _leaf)
    return mapped if isinstance(mapped, str) else arrays_as_lists(mapped)


def _leaf(dtype: DType) -> pl.DataType | str:
    dtype = as_instance(dtype)
    if dtype in _WIDER_INT:  # Iceberg integers are signed 32- or 64-bit
        return _WIDER_INT[dtype]
    if dtype == pl.UInt64:
        return "Iceberg integers are signed 64-bit at most"
    if isinstance(dtype, pl.Duration):
        return "Iceberg has no duration type"
    if dtype == pl.Time:
        return "Iceberg times hold microseconds and Polars times nanoseconds (store it as a string)"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime):
        return microsecond_timestamp(dtype, "Iceberg")
    return common_leaf(dtype)


def null_struct_list(series: pl.Series) -> str | None:
    """The path of a list-of-structs value in ``series`` that is null (``v``, ``v.boxes``), if any.

    PyIceberg (0.12) writes such a null as an empty list: a changed value, so the store refuses it.
    """
    dtype = series.dtype
    if isinstance(dtype, pl.List):
        if isinstance(dtype.inner, pl.Struct) and series.null_count():
            return series.name
        return null_struct_list(series.explode().drop_nulls().alias(series.name))
    if isinstance(dtype, pl.Struct):
        present = series.drop_nulls()
        for field in dtype.fields:
            found = null_struct_list(present.struct.field(field.name).alias(f"{series.name}.{field.name}"))
            if found is not None:
                return found
    return None


# -- filters as Iceberg expressions -----------------------------------------------------------------

_COMPARISONS = {
    "Eq": "EqualTo",
    "NotEq": "NotEqualTo",
    "Lt": "LessThan",
    "LtEq": "LessThanOrEqual",
    "Gt": "GreaterThan",
    "GtEq": "GreaterThanOrEqual",
}
_FLIPPED = {"Eq": "Eq", "NotEq": "NotEq", "Lt": "Gt", "LtEq": "GtEq", "Gt": "Lt", "GtEq": "LtEq"}


def iceberg_filter(exprs: Sequence[pl.Expr]) -> Any | None:
    """The conjunction of ``exprs`` as a PyIceberg expression, for planning which files a scan opens;
    None when one cannot be translated (comparisons of a column with a literal, ``&``, ``|``, ``~``,
    ``is_null`` and ``is_not_null`` can)."""
    ice: Any = importlib.import_module("pyiceberg.expressions")
    translated = [_node(json.loads(e.meta.serialize(format="json")), ice) for e in exprs]
    if not translated or any(t is None for t in translated):
        return None
    result = translated[0]
    for item in translated[1:]:
        result = ice.And(result, item)
    return result


def _node(node: Any, ice: Any) -> Any | None:
    if not isinstance(node, dict) or len(node) != 1:
        return None
    ((kind, body),) = node.items()
    if kind == "BinaryExpr":
        op = body["op"]
        if op in ("And", "Or", "LogicalAnd", "LogicalOr"):
            left, right = _node(body["left"], ice), _node(body["right"], ice)
            if left is None or right is None:
                return None
            return ice.And(left, right) if "And" in op else ice.Or(left, right)
        if op not in _COMPARISONS:
            return None
        column, value, flipped = _column(body["left"]), _literal(body["right"]), False
        if column is None:
            column, value, flipped = _column(body["right"]), _literal(body["left"]), True
        if column is None or value is _NOT_A_LITERAL:
            return None
        op = _FLIPPED[op] if flipped else op
        if value is None:
            return None
        return getattr(ice, _COMPARISONS[op])(column, value)
    if kind == "Function":
        function, inputs = body.get("function"), body.get("input", [])
        boolean = function.get("Boolean") if isinstance(function, dict) else None
        if boolean in ("IsNull", "IsNotNull") and len(inputs) == 1 and (column := _column(inputs[0])):
            return ice.IsNull(column) if boolean == "IsNull" else ice.NotNull(column)
        if boolean == "Not" and len(inputs) == 1:
            inner = _node(inputs[0], ice)
            return None if inner is None else ice.Not(inner)
    return None


_NOT_A_LITERAL = object()


def _column(node: Any) -> str | None:
    return node["Column"] if isinstance(node, dict) and isinstance(node.get("Column"), str) else None


def _literal(node: Any) -> Any:
    if isinstance(node, dict) and "Alias" in node:
        node = node["Alias"][0]
    if not (isinstance(node, dict) and "Literal" in node):
        return _NOT_A_LITERAL
    ((kind, value),) = node["Literal"].items()
    if kind == "Dyn":
        ((_, scalar),) = value.items()
        return scalar
    if kind != "Scalar" or not isinstance(value, dict):
        return _NOT_A_LITERAL
    ((dtype, scalar),) = value.items()
    if dtype in ("String", "Boolean") or dtype.startswith(("Int", "UInt", "Float")):
        return scalar
    if dtype == "Date":
        return (date(1970, 1, 1) + timedelta(days=scalar)).isoformat()
    if dtype == "Datetime" and isinstance(scalar, list) and scalar[1] == "Microseconds":
        moment = datetime(1970, 1, 1) + timedelta(microseconds=scalar[0])
        return moment.isoformat() + ("+00:00" if scalar[2] else "")
    return _NOT_A_LITERAL
