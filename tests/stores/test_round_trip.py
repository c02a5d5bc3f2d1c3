"""The round-trip table: every Polars dtype on every store reads back exactly, or as a documented
lossless wider type, or is refused at write with a SchemaError; never changed, never unreadable.

``EXPECTED`` is the table in docs/stores.md ("Column types"); a change to either must change both.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import SchemaError
from tests.stores.conftest import SERVER_FIXTURES, STORE_FACTORIES
from tests.stores.spark.session import skip_without_java

STORES = ("memory", "duckdb", "delta", "sqlalchemy", "postgres", "clickhouse", "iceberg", "spark")

EXPECTED: dict[str, tuple[str, ...]] = {
    # dtype: outcome per store in STORES order; '=' exact, a dtype: read back as that (lossless), 'refused'
    "Int8": ("=", "=", "=", "Int64", "Int64", "=", "Int32", "="),
    "Int16": ("=", "=", "=", "Int64", "Int64", "=", "Int32", "="),
    "Int32": ("=", "=", "=", "Int64", "Int64", "=", "=", "="),
    "Int64": ("=", "=", "=", "=", "=", "=", "=", "="),
    "UInt8": ("=", "=", "Int16", "Int64", "Int64", "=", "Int32", "Int16"),
    "UInt16": ("=", "=", "Int32", "Int64", "Int64", "=", "Int32", "Int32"),
    "UInt32": ("=", "=", "Int64", "Int64", "Int64", "=", "Int64", "Int64"),
    "UInt64": ("=", "=", "refused", "refused", "refused", "=", "refused", "refused"),
    "Float32": ("=", "=", "=", "Float64", "Float64", "=", "=", "="),
    "Float64": ("=", "=", "=", "=", "=", "=", "=", "="),
    "Boolean": ("=", "=", "=", "=", "=", "=", "=", "="),
    "String": ("=", "=", "=", "=", "=", "=", "=", "="),
    "Binary": ("=", "=", "=", "=", "=", "refused", "=", "="),
    "Date": ("=", "=", "=", "=", "=", "=", "=", "="),
    "Datetime(ms)": (
        "=",
        "=",
        "Datetime(us)",
        "Datetime(us)",
        "Datetime(us)",
        "=",
        "Datetime(us)",
        "Datetime(us)",
    ),
    "Datetime(ms, UTC)": (
        "=",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
        "=",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
    ),
    "Datetime(us)": ("=", "=", "=", "=", "=", "=", "=", "="),
    "Datetime(us, UTC)": ("=", "=", "=", "=", "=", "=", "=", "="),
    "Datetime(ns)": ("=", "=", "refused", "refused", "refused", "=", "refused", "refused"),
    "Datetime(ns, UTC)": ("=", "=", "refused", "refused", "refused", "=", "refused", "refused"),
    "Datetime(us, Europe/Paris)": (
        "=",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
        "=",
        "Datetime(us, UTC)",
        "Datetime(us, UTC)",
    ),
    "Duration(us)": ("=", "refused", "refused", "refused", "refused", "refused", "refused", "refused"),
    "Time": ("=", "=", "refused", "refused", "refused", "refused", "refused", "refused"),
    "Decimal(10, 2)": ("=", "=", "=", "refused", "refused", "refused", "=", "="),
    "Categorical": ("=", "String", "String", "String", "String", "String", "String", "String"),
    "Enum": ("=", "String", "String", "String", "String", "String", "String", "String"),
    "List(Int64)": ("=", "=", "=", "=", "=", "refused", "=", "="),
    "List(String)": ("=", "=", "=", "=", "=", "refused", "=", "="),
    "Array(Int64, 2)": (
        "=",
        "=",
        "List(Int64)",
        "List(Int64)",
        "List(Int64)",
        "refused",
        "List(Int64)",
        "List(Int64)",
    ),
    "Struct(a: Int64, b: String)": ("=", "=", "=", "=", "=", "refused", "=", "="),
    "Struct(t: Datetime(us))": ("=", "=", "=", "refused", "refused", "refused", "=", "="),
    "List(Struct(a: Int64))": ("=", "=", "=", "=", "=", "refused", "refused", "="),
    "Struct(l: List(Float64))": ("=", "=", "=", "=", "=", "refused", "=", "="),
    "Null": ("String", "String", "String", "String", "String", "String", "String", "String"),
    "Object": ("refused", "refused", "refused", "refused", "refused", "refused", "refused", "refused"),
}


def cases() -> dict[str, pl.Series]:
    """One column per dtype, with edge values (extremes, -0.0, non-UTF-8 bytes, nulls)."""
    d = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    out: dict[str, pl.Series] = {}
    for t, bits in (
        (pl.Int8, 8),
        (pl.Int16, 16),
        (pl.Int32, 32),
        (pl.Int64, 64),
        (pl.UInt8, 8),
        (pl.UInt16, 16),
        (pl.UInt32, 32),
        (pl.UInt64, 64),
    ):
        lo, hi = (0, 2**bits - 1) if t().is_unsigned_integer() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        out[str(t())] = pl.Series([lo, hi, None], dtype=t)
    out["Float32"] = pl.Series([1.5, -0.0, None], dtype=pl.Float32)
    out["Float64"] = pl.Series([1.5e300, -0.0, None], dtype=pl.Float64)
    out["Boolean"] = pl.Series([True, False, None])
    out["String"] = pl.Series(["é", "", None])
    out["Binary"] = pl.Series([b"\xff\x00", b"", None])
    out["Date"] = pl.Series([dt.date(1900, 1, 1), dt.date(2024, 2, 29), None])
    for unit in ("ms", "us", "ns"):
        out[f"Datetime({unit})"] = pl.Series([d, None, d], dtype=pl.Datetime(unit))
        if unit == "ns":  # a value finer than a microsecond, so truncation shows
            out[f"Datetime({unit})"] = (out[f"Datetime({unit})"].cast(pl.Int64) + 7).cast(pl.Datetime("ns"))
        out[f"Datetime({unit}, UTC)"] = pl.Series([d, None, d], dtype=pl.Datetime(unit)).dt.replace_time_zone(
            "UTC"
        )
    out["Datetime(us, Europe/Paris)"] = pl.Series([d, None, d]).dt.replace_time_zone("Europe/Paris")
    out["Duration(us)"] = pl.Series([dt.timedelta(seconds=3), None, dt.timedelta(0)])
    out["Time"] = pl.Series([dt.time(1, 2, 3), None, dt.time(0)])
    out["Decimal(10, 2)"] = pl.Series([Decimal("1.25"), None, Decimal("-3.00")], dtype=pl.Decimal(10, 2))
    out["Categorical"] = pl.Series(["a", "b", None], dtype=pl.Categorical)
    out["Enum"] = pl.Series(["a", "b", None], dtype=pl.Enum(["a", "b"]))
    out["List(Int64)"] = pl.Series([[1, 2], [], None], dtype=pl.List(pl.Int64))
    out["List(String)"] = pl.Series([["x"], [], None], dtype=pl.List(pl.String))
    out["Array(Int64, 2)"] = pl.Series([[1, 2], [3, 4], None], dtype=pl.Array(pl.Int64, 2))
    out["Struct(a: Int64, b: String)"] = pl.Series(
        [{"a": 1, "b": "x"}, None, {"a": None, "b": None}], dtype=pl.Struct({"a": pl.Int64, "b": pl.String})
    )
    out["Struct(t: Datetime(us))"] = pl.Series(
        [{"t": d}, None, {"t": None}], dtype=pl.Struct({"t": pl.Datetime("us")})
    )
    out["List(Struct(a: Int64))"] = pl.Series(
        [[{"a": 1}], [], None], dtype=pl.List(pl.Struct({"a": pl.Int64}))
    )
    out["Struct(l: List(Float64))"] = pl.Series(
        [{"l": [1.0]}, None, {"l": None}], dtype=pl.Struct({"l": pl.List(pl.Float64)})
    )
    out["Null"] = pl.Series([None, None, None], dtype=pl.Null)
    out["Object"] = pl.Series([object(), object(), None], dtype=pl.Object)
    return out


def outcome(store: mx.MetadataStore, key: str, series: pl.Series) -> str:
    """'=', the dtype it read back as (when every value survived), 'refused', or what went wrong."""

    class Column(mx.Feature, spec=mx.FeatureSpec(key=key, fields=[mx.FieldSpec(key="default")])):
        pass

    df = pl.DataFrame({"sample_uid": [1, 2, 3], "v": series.alias("v")}).with_columns(
        metaxy_provenance_by_field=pl.struct(default=pl.lit("p"))
    )
    try:
        store.write_metadata(Column, df)
    except SchemaError:
        return "refused"
    except BaseException as exc:
        return f"raw {type(exc).__name__}: {exc}"
    try:
        out = store.read_metadata(Column).collect().sort("sample_uid")["v"]
    except BaseException as exc:
        return f"unreadable {type(exc).__name__}: {exc}"
    if out.dtype == series.dtype and out.equals(series.alias("v")):
        return "="
    if series.dtype != pl.Null and series.cast(out.dtype).alias("v").equals(out):
        return _label(out.dtype)
    if series.dtype == pl.Null and out.null_count() == out.len():
        return _label(out.dtype)
    return f"changed to {out.dtype}: {out.to_list()}"


def _label(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        zone = f", {dtype.time_zone}" if dtype.time_zone else ""
        return f"Datetime({dtype.time_unit}{zone})"
    return str(dtype)


@pytest.mark.parametrize("name", STORES)
def test_every_dtype_round_trips_exactly_widened_or_refused(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if name == "spark":
        skip_without_java()
    fixture = SERVER_FIXTURES.get(name)
    extra = {"server": request.getfixturevalue(fixture)} if fixture else {}
    column = STORES.index(name)
    with STORE_FACTORIES[name](tmp_path, **extra) as store:
        for i, (label, series) in enumerate(cases().items()):
            with mx.FeatureGraph().use():
                got = outcome(store, f"round_trip/c{i}", series)
            assert got == EXPECTED[label][column], f"{label} on {name}"


def test_the_table_covers_every_case() -> None:
    assert set(EXPECTED) == set(cases())
