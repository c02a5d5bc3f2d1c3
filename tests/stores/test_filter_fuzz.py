"""Filters on every SQL store return exactly the rows Polars' own ``df.filter`` returns.

The frame holds what SQL backends get wrong: NaN, ±inf, -0.0, nulls, non-ASCII and multi-byte strings.
The named edge cases run first; then hypothesis draws random filter trees (``HYPOTHESIS_PROFILE=thorough``
or ``make stress`` for many more).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaxy as mx
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.exceptions import LocalFilterWarning, SchemaError
from tests.stores.conftest import SERVER_FIXTURES, STORE_FACTORIES
from tests.stores.spark.session import skip_without_java

SQL_STORES = ["duckdb", "sqlalchemy", "postgres", "clickhouse", "spark"]
INF, NAN = math.inf, math.nan

INTS = [None, -3, 0, 1, 2, 7, -(2**40)]
FLOATS = [NAN, -0.0, 0.0, INF, -INF, None, 1.5, -2.25, 1e300]
STRINGS = ["é", "éa", "a", "", "A", None, "日本語", "a%_", "it's", 'q"uote', "zz", "\\back", "{p0: String}"]
BOOLS = [True, False, None, True, False, None, True, False, None]

EDGE_CASES = {
    "starts-with-accent": pl.col("s").str.starts_with("é"),
    "starts-with-cjk": pl.col("s").str.starts_with("日本"),
    "is-in-zero-matches-negative-zero": pl.col("f").is_in([0.0]),
    "is-in-nan": pl.col("f").is_in([NAN, 1.5]),
    "is-in-inf": pl.col("f").is_in([INF]),
    "is-in-several-with-negative-zero": pl.col("f").is_in([-0.0, INF, -INF]),
    "or-chain-of-equalities": (pl.col("f") == -0.0) | (pl.col("f") == 1.5) | (pl.col("f") == INF),
    "equals-nan": pl.col("f") == NAN,
    "not-equal-nan": pl.col("f") != NAN,
    "nan-is-greatest": pl.col("f") > 1e300,
    "below-nan": pl.col("f") < NAN,
    "below-inf": pl.col("f") < INF,
    "at-least-minus-inf": pl.col("f") >= -INF,
    "between-inf": pl.col("f").is_between(-INF, INF),
    "negated-nan-order": ~(pl.col("f") <= 0.0),
    "strings-ordered-by-bytes": pl.col("s") < "a",
    "nul-in-value": pl.col("s") == "a\x00b",
    "parameter-lookalike": pl.col("s") == "{p0: String}",
    "injection": pl.col("s") == "'; DROP TABLE t; --",
    "bare-boolean-column": pl.col("b"),
}


def _frame(store_name: str) -> pl.DataFrame:
    floats = [None if store_name == "sqlalchemy" and f is not None and math.isnan(f) else f for f in FLOATS]
    n = len(FLOATS)
    return pl.DataFrame(
        {
            "sid": list(range(n)),
            "i": (INTS * n)[:n],
            "f": floats,
            "s": (STRINGS * n)[:n],
            "b": BOOLS[:n],
        },
        schema={"sid": pl.Int64, "i": pl.Int64, "f": pl.Float64, "s": pl.String, "b": pl.Boolean},
    )


@pytest.fixture(params=SQL_STORES)
def filled(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[mx.MetadataStore, type[mx.Feature], pl.DataFrame]]:
    """A SQL store holding the edge-case frame under one feature."""
    if request.param == "spark":
        skip_without_java()
    fixture = SERVER_FIXTURES.get(request.param)
    extra = {"server": request.getfixturevalue(fixture)} if fixture else {}
    store = STORE_FACTORIES[request.param](tmp_path, **extra)

    class Numbers(mx.Feature, spec=mx.FeatureSpec(key="fuzz/numbers", id_columns=["sid"])):
        i: int | None
        f: float | None
        s: str | None
        b: bool | None

    frame = _frame(request.param)
    with store:
        store.write_metadata(
            Numbers, frame.with_columns(pl.struct(pl.lit("p").alias("default")).alias(PROVENANCE_BY_FIELD))
        )
        yield store, Numbers, frame


def _same_rows(
    store: mx.MetadataStore, feature: type[mx.Feature], frame: pl.DataFrame, expr: pl.Expr
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalFilterWarning)  # what SQL cannot hold runs in Polars
        got = store.read_metadata(feature, filters=expr, columns=["sid"]).collect()["sid"].sort().to_list()
    want = frame.filter(expr)["sid"].sort().to_list()
    assert got == want, f"{store.name}: {expr}"


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_case_filters_match_polars(
    filled: tuple[mx.MetadataStore, type[mx.Feature], pl.DataFrame], case: str
) -> None:
    store, feature, frame = filled
    _same_rows(store, feature, frame, EDGE_CASES[case])


def _atoms() -> st.SearchStrategy[pl.Expr]:
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])

    def compare(column: str, values: st.SearchStrategy[object]) -> st.SearchStrategy[pl.Expr]:
        return st.builds(lambda op, v: _apply(pl.col(column), op, v), ops, values)

    ints = st.sampled_from([i for i in INTS if i is not None]) | st.integers(-(2**62), 2**62)
    floats = st.sampled_from([f for f in FLOATS if f is not None]) | st.floats(allow_nan=True)
    texts = st.sampled_from([s for s in STRINGS if s is not None]) | st.text(
        alphabet="aé日%_'\"\\{}Az", max_size=3
    )
    return st.one_of(
        compare("i", ints),
        compare("f", floats),
        compare("f", ints.filter(lambda i: abs(i) < 2**53)),
        compare("s", texts),
        st.sampled_from(["i", "f", "s", "b"]).map(lambda c: pl.col(c).is_null()),
        st.sampled_from(["i", "f", "s", "b"]).map(lambda c: pl.col(c).is_not_null()),
        st.lists(ints, min_size=1, max_size=3).map(lambda v: pl.col("i").is_in(v)),
        st.lists(floats, min_size=1, max_size=3).map(lambda v: pl.col("f").is_in(v)),
        st.lists(texts, min_size=1, max_size=3).map(lambda v: pl.col("s").is_in(v)),
        texts.map(lambda p: pl.col("s").str.starts_with(p)),
        st.builds(
            lambda lo, hi, closed: pl.col("f").is_between(lo, hi, closed=closed),
            floats,
            floats,
            st.sampled_from(["both", "left", "right", "none"]),
        ),
        st.booleans().map(lambda v: pl.col("b") == v),
    )


def _apply(column: pl.Expr, op: str, value: object) -> pl.Expr:
    return {
        "==": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[op](value)


FILTERS = st.recursive(
    _atoms(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        inner.map(lambda a: ~a),
    ),
    max_leaves=4,
)


@pytest.mark.stress
def test_random_filters_match_polars(filled: tuple[mx.MetadataStore, type[mx.Feature], pl.DataFrame]) -> None:
    store, feature, frame = filled

    @settings(suppress_health_check=[HealthCheck.too_slow])
    @given(expr=FILTERS)
    def check(expr: pl.Expr) -> None:
        _same_rows(store, feature, frame, expr)

    check()


def test_sqlite_refuses_nan_at_write(tmp_path: Path) -> None:
    class Values(mx.Feature, spec=mx.FeatureSpec(key="fuzz/values", id_columns=["sid"])):
        f: float

    frame = pl.DataFrame({"sid": [1], "f": [NAN]}).with_columns(
        pl.struct(pl.lit("p").alias("default")).alias(PROVENANCE_BY_FIELD)
    )
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'nan.db'}") as store:
        with pytest.raises(SchemaError, match="'f' holds NaN"):
            store.write_metadata(Values, frame)
        assert store.list_features() == []
