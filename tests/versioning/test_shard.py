"""The shard rule: frozen vectors, the Polars filter equal to the reference, the SQL text per dialect and
its golden runs (DuckDB, chdb, SQLite; PostgreSQL runs in tests/stores/test_shards.py), bad input."""

from __future__ import annotations

import sqlite3
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import sqlglot.expressions as exp
from hypothesis import given
from hypothesis import strategies as st

from metaxy.exceptions import InvalidShardError
from metaxy.stores.backends import sql_dialect
from metaxy.stores.sqlalchemy.store import _no_driver_transactions
from metaxy.versioning.shard import Shard, ShardFilter, check_shard_columns, shard_filter, shard_of
from metaxy.versioning.sql import split_filters, to_sql_condition

TRICKY = ["", "a|b", "it's", 'say "hi"', "back\\slash", "naïve ☃ 日本", "tab\tnew\nline", "%_like"]
INTS = [0, 1, -1, 7, 2**31, -(2**63), 2**63 - 1, 123456789012]

SHARD_SQL = {
    "duckdb": """SELECT ((CAST('0x' || SUBSTRING(MD5(COALESCE(CAST("a" AS TEXT), '') || '|' || """
    """COALESCE(CAST("b" AS TEXT), '')), 1, 8) AS BIGINT) % 4) = 1)""",
    "clickhouse": """SELECT ((toInt64(reinterpretAsUInt32(reverse(unhex(SUBSTRING(lower(hex(MD5("""
    """COALESCE(toString("a"), '') || '|' || COALESCE(toString("b"), '')))), 1, 8))))) % 4) = 1)""",
    "postgres": """SELECT ((CAST(CAST('x' || SUBSTRING(MD5(COALESCE(CAST("a" AS TEXT), '') || '|' || """
    """COALESCE(CAST("b" AS TEXT), '')) FROM 1 FOR 8) AS BIT(32)) AS BIGINT) % 4) = 1)""",
    "sqlite": """SELECT ((METAXY_HEX_TO_INT(SUBSTRING(METAXY_MD5(COALESCE(CAST(`a` AS TEXT), '') || '|' || """
    """COALESCE(CAST(`b` AS TEXT), '')), 1, 8)) % 4) = 1)""",
}


def test_frozen_shard_vectors() -> None:
    """Shards decide which worker computes what: a changed rule moves samples, so these are frozen."""
    assert [shard_of([i], 4) for i in range(8)] == [0, 0, 1, 2, 1, 3, 0, 3]
    assert shard_of(["video-1"], 16) == 11
    assert shard_of([42, "clip"], 1000) == 723
    assert shard_of([None], 3) == shard_of([""], 3)


@given(
    ids=st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=30),
    words=st.lists(st.text(max_size=12), min_size=1, max_size=30),
    count=st.integers(1, 50),
)
def test_polars_filter_selects_the_reference_shards(ids: list[int], words: list[str], count: int) -> None:
    n = min(len(ids), len(words))
    frame = pl.DataFrame({"i": ids[:n], "w": words[:n]}, schema={"i": pl.Int64, "w": pl.String})
    for columns in (["i"], ["w"], ["i", "w"]):
        want = [shard_of([row[c] for c in columns], count) for row in frame.iter_rows(named=True)]
        for index in {0, count - 1, want[0]}:
            got = frame.with_row_index().filter(shard_filter(Shard(index, count), columns))["index"]
            assert got.to_list() == [k for k, s in enumerate(want) if s == index]


@pytest.mark.parametrize("dialect", sorted(SHARD_SQL))
def test_shard_sql_text(dialect: str) -> None:
    d = sql_dialect(dialect)
    assert d.render(exp.select(d.shard_condition(["a", "b"], Shard(1, 4)))) == SHARD_SQL[dialect]


def test_a_shard_filter_is_pushed_down_whole() -> None:
    d = sql_dialect("duckdb")
    chosen = shard_filter(Shard(2, 3), ["sample_uid"])
    pushed, local = split_filters([chosen, pl.col("x") > 1], d)
    assert local == []
    assert d.render(pushed[0]) == d.render(to_sql_condition(chosen, d))
    assert "MD5" in d.render(pushed[0])


def _values_query(dialect: str, count: int) -> str:
    d = sql_dialect(dialect)
    shards = [
        exp.alias_(exp.Paren(this=d.shard_condition(["v"], Shard(i, count))), f"s{i}") for i in range(count)
    ]
    return d.render(exp.select(exp.column("v", quoted=True), *shards).from_("t"))


def _shards_of_rows(rows: list[tuple[Any, ...]]) -> list[int]:
    return [flags.index(True) for *_, flags in ((r[0], list(map(bool, r[1:]))) for r in rows)]


@pytest.mark.parametrize("values", [TRICKY, INTS], ids=["strings", "integers"])
def test_duckdb_and_sqlite_shards_equal_the_reference(values: list[Any]) -> None:
    count = 5
    want = [shard_of([v], count) for v in values]
    kind = "VARCHAR" if isinstance(values[0], str) else "BIGINT"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (k INTEGER, v {kind})")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    rows = con.execute(_values_query("duckdb", count) + " ORDER BY k").fetchall()
    assert [r[0] for r in rows] == values
    assert _shards_of_rows(rows) == want

    lite = sqlite3.connect(":memory:")
    _no_driver_transactions(lite, None)  # the store's connect hook registers the two functions
    lite.execute(f"CREATE TABLE t (k INTEGER, v {'TEXT' if kind == 'VARCHAR' else 'INTEGER'})")
    lite.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    rows = lite.execute(_values_query("sqlite", count) + " ORDER BY k").fetchall()
    assert _shards_of_rows(rows) == want


@pytest.mark.parametrize("values", [TRICKY, INTS], ids=["strings", "integers"])
def test_clickhouse_shards_equal_the_reference(values: list[Any]) -> None:
    chdb = pytest.importorskip("chdb", reason="chdb (embedded ClickHouse) is not installed")
    count = 5
    literal = pl.DataFrame({"k": range(len(values)), "v": values}).to_arrow()  # noqa: F841 (read by chdb)
    sql = _values_query("clickhouse", count).replace(' FROM "t"', " FROM Python(literal)") + " ORDER BY k"
    result = chdb.query(sql, "ArrowStream")
    frame = pl.from_arrow(pa.ipc.open_stream(result.bytes()).read_all())
    assert isinstance(frame, pl.DataFrame)
    assert frame["v"].to_list() == values
    assert _shards_of_rows(frame.rows()) == [shard_of([v], count) for v in values]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((0, 0), "asks for 0 shards"),
        ((3, 3), "outside 0..2"),
        ((-1, 3), "outside 0..2"),
        ("0/3", "not an \\(index, count\\) pair"),
        ((0, 2, 1), "not an \\(index, count\\) pair"),
        ((True, 2), "not an \\(index, count\\) pair"),
        ((0.0, 2), "not an \\(index, count\\) pair"),
    ],
)
def test_bad_shards_are_refused(value: Any, message: str) -> None:
    with pytest.raises(InvalidShardError, match=message) as info:
        Shard.coerce(value, where="here")
    assert "Hint:" in str(info.value)
    assert str(info.value).startswith("here: ")


def test_shards_are_only_defined_on_integer_and_string_keys() -> None:
    check_shard_columns(pl.Schema({"a": pl.Int8, "b": pl.String, "c": pl.UInt64}), ["a", "b", "c"], where="w")
    with pytest.raises(InvalidShardError, match="'d' is Float64"):
        check_shard_columns(pl.Schema({"d": pl.Float64}), ["d"], where="w")


def test_a_shard_filter_is_a_polars_expression() -> None:
    chosen = shard_filter(Shard(0, 2), ["a"])
    assert isinstance(chosen, ShardFilter)
    assert isinstance(chosen, pl.Expr)
    assert (chosen.shard, chosen.columns) == (Shard(0, 2), ("a",))
    assert str(Shard(0, 2)) == "shard 0 of 2"
