"""Polars filters → SQL conditions: text per dialect, refusals, splitting, and same rows as Polars."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlglot.expressions as exp
from polars.testing import assert_frame_equal

from metaxy.exceptions import FilterPushdownError
from metaxy.stores.backends import sql_dialect
from metaxy.versioning.sql import split_filters, to_sql_condition

DUCK = sql_dialect("duckdb")

INF, NAN = float("inf"), float("nan")

#: Polars filter -> DuckDB SQL text and the values bound to it (never part of the text)
CASES: list[tuple[pl.Expr, str, dict[str, Any]]] = [
    (pl.col("a") > 3, '("a" > $p0)', {"p0": 3}),
    (pl.col("a") != 3, '("a" <> $p0)', {"p0": 3}),
    ((pl.col("a") >= 1) & (pl.col("b") == "x"), '(("a" >= $p0) AND ("b" = $p1))', {"p0": 1, "p1": "x"}),
    (
        (pl.col("a") < 1) | ~(pl.col("b") <= "y"),
        '(("a" < $p0) OR NOT (("b" <= $p1)))',
        {"p0": 1, "p1": "y"},
    ),
    (pl.col("b").is_in(["x", "it's"]), '"b" IN ($p0, $p1)', {"p0": "x", "p1": "it's"}),
    (pl.col("a").is_in([1, 2]), '"a" IN ($p0, $p1)', {"p0": 1, "p1": 2}),
    (pl.col("a").is_null(), '"a" IS NULL', {}),
    (pl.col("a").is_not_null(), 'NOT ("a" IS NULL)', {}),
    (pl.col("a").is_between(1, 5), '(("a" >= $p0) AND ("a" <= $p1))', {"p0": 1, "p1": 5}),
    (pl.col("a").is_between(1, 5, closed="none"), '(("a" > $p0) AND ("a" < $p1))', {"p0": 1, "p1": 5}),
    (pl.col("b").str.starts_with("x%_"), 'STARTS_WITH("b", $p0)', {"p0": "x%_"}),
    (pl.col("c") == 1.5, '("c" = $p0)', {"p0": 1.5}),
    (pl.col("f") == True, '("f" = $p0)', {"p0": True}),  # noqa: E712
    (pl.col("d") >= date(2024, 1, 2), '("d" >= CAST($p0 AS DATE))', {"p0": "2024-01-02"}),
    (
        pl.col("t") < datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        '("t" < CAST($p0 AS TIMESTAMPTZ))',
        {"p0": "2024-01-02 03:04:05+00:00"},
    ),
    (pl.col('we"ird') == pl.col("a"), '("we""ird" = "a")', {}),
    (pl.col("b") == "'; DROP TABLE t; --", '("b" = $p0)', {"p0": "'; DROP TABLE t; --"}),
    (pl.col("c") < INF, '("c" < $p0)', {"p0": INF}),
    (pl.col("c").is_in([-INF]), '"c" IN ($p0)', {"p0": -INF}),
]

#: one filter per dialect: placeholders, quoting, starts_with and Polars' float semantics differ
MIXED = (pl.col("a") > 1) & pl.col("b").is_in(["x"]) & pl.col("b").str.starts_with("é") & (pl.col("c") < INF)
PER_DIALECT: dict[str, tuple[str, dict[str, Any]]] = {
    "duckdb": (
        '(((("a" > $p0) AND "b" IN ($p1)) AND STARTS_WITH("b", $p2)) AND ("c" < $p3))',
        {"p0": 1, "p1": "x", "p2": "é", "p3": INF},
    ),
    "clickhouse": (
        '(((({p0: Int64} < "a" OR "a" <> "a") AND "b" IN ({p1: String})) AND startsWith("b", {p2: String})) '
        'AND ("c" < {p3: Float64}))',
        {"p0": 1, "p1": "x", "p2": "é", "p3": INF},
    ),
    "postgres": (
        '(((("a" > %(p0)s) AND "b" IN (%(p1)s)) AND STARTS_WITH("b", %(p2)s)) AND ("c" < %(p3)s))',
        {"p0": 1, "p1": "x", "p2": "é", "p3": INF},
    ),
    "sqlite": (
        "((((`a` > :p0) AND `b` IN (:p1)) AND (SUBSTR(`b`, 1, LENGTH(:p2)) = :p3)) AND (`c` < :p4))",
        {"p0": 1, "p1": "x", "p2": "é", "p3": "é", "p4": INF},
    ),
}

#: the float cases each dialect writes out: NaN and -0.0 in equality and order, is_in over floats
FLOATS = [pl.col("c") == NAN, pl.col("c") > 1.0, pl.col("c").is_in([0.0])]
FLOATS_PER_DIALECT: dict[str, list[str]] = {
    "duckdb": ['("c" = $p0)', '("c" > $p0)', '"c" IN ($p0)'],
    "clickhouse": [
        '(("c" + 0.0) = {p0: Float64} OR ("c" + 0.0) <> ("c" + 0.0))',
        '({p0: Float64} < "c" OR "c" <> "c")',
        '((("c" + 0.0) = {p0: Float64}))',
    ],
    "postgres": ['("c" = %(p0)s)', '("c" > %(p0)s)', '"c" IN (%(p0)s)'],
}


@pytest.mark.parametrize(("expr", "sql", "params"), CASES, ids=[c[1] for c in CASES])
def test_condition_sql_text_binds_every_value(expr: pl.Expr, sql: str, params: dict[str, Any]) -> None:
    assert DUCK.render_bound(to_sql_condition(expr, DUCK)) == (sql, params)


@pytest.mark.parametrize("dialect", sorted(PER_DIALECT))
def test_condition_per_dialect(dialect: str) -> None:
    d = sql_dialect(dialect)
    assert d.render_bound(to_sql_condition(MIXED, d)) == PER_DIALECT[dialect]


@pytest.mark.parametrize("dialect", sorted(FLOATS_PER_DIALECT))
def test_float_conditions_per_dialect(dialect: str) -> None:
    d = sql_dialect(dialect)
    assert [d.render_bound(to_sql_condition(e, d))[0] for e in FLOATS] == FLOATS_PER_DIALECT[dialect]


@pytest.mark.parametrize(
    ("dialect", "expr"),
    [("sqlite", pl.col("c") == NAN), ("postgres", pl.col("b") == "a\x00b")],
    ids=["sqlite-nan", "postgres-nul"],
)
def test_values_a_backend_cannot_hold_run_in_polars(dialect: str, expr: pl.Expr) -> None:
    pushed, local = split_filters([(pl.col("a") > 1) & expr], sql_dialect(dialect))
    assert len(pushed) == 1
    assert [str(e) for e in local] == [str(expr)]


def test_postgres_orders_strings_by_bytes_whatever_the_collation() -> None:
    d = sql_dialect("postgres")
    assert d.render_bound(to_sql_condition(pl.col("b") < "B", d)) == (
        '("b" < %(p0)s COLLATE "C")',
        {"p0": "B"},
    )


@pytest.mark.parametrize(
    "expr",
    [
        pl.col("a") + 1 > 3,
        pl.col("b").str.contains("x"),
        pl.col("a").alias("z") > 1,
        pl.col("a") == pl.lit(None),
        pl.col("a").is_in(pl.col("b").implode()),
        pl.col("b").str.to_lowercase() == "x",
    ],
)
def test_unsupported_expressions_are_refused_with_a_hint(expr: pl.Expr) -> None:
    with pytest.raises(FilterPushdownError, match="Hint: Use columns"):
        to_sql_condition(expr, DUCK)


def test_split_pushes_supported_conjuncts_and_keeps_the_rest_local() -> None:
    pushed, local = split_filters(
        [(pl.col("a") > 1) & pl.col("b").str.contains("x"), pl.col("c").is_null()], DUCK
    )
    assert [DUCK.render_bound(p) for p in pushed] == [('("a" > $p0)', {"p0": 1}), ('"c" IS NULL', {})]
    assert len(local) == 1
    frame = pl.DataFrame({"b": ["x1", "y"]})
    assert frame.filter(local[0])["b"].to_list() == ["x1"]


def test_a_local_filter_keeps_its_non_finite_literal() -> None:
    """The JSON form writes inf as null: the local filter must be the original expression."""
    pushed, local = split_filters(
        [(pl.col("a") > 1) & (pl.col("b").str.contains("x") | (pl.col("c") < INF))], DUCK
    )
    assert len(pushed) == 1
    frame = pl.DataFrame({"a": [2, 2], "b": ["y", "y"], "c": [1.0, INF]})
    assert frame.filter(local[0])["c"].to_list() == [1.0]


def test_pushed_conditions_select_the_same_rows_as_polars() -> None:
    frame = pl.DataFrame(
        {
            "a": [None, 1, 2, 3, 4, 5],
            "b": ["x", "it's", None, "xy", "y", "x%z"],
            "c": [NAN, -0.0, 0.0, INF, None, 1.5],
            "d": [date(2024, 1, i) for i in range(1, 7)],
        }
    )
    con = duckdb.connect()
    con.register("frame", frame.to_arrow())
    for expr, _, _ in [*CASES, (MIXED, "", {}), *((f, "", {}) for f in FLOATS)]:
        if any(c in expr.meta.root_names() for c in ("f", "t", 'we"ird')):
            continue
        query = exp.select("*").from_("frame").where(to_sql_condition(expr, DUCK))
        sql, params = DUCK.render_bound(query)
        got = pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
        assert isinstance(got, pl.DataFrame)
        want = frame.filter(expr)
        assert_frame_equal(got.sort("a", nulls_last=True), want.sort("a", nulls_last=True))
