"""``latest_rows``: the latest stored row per id wins, append order breaks timestamp ties."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from metaxy.constants import UPDATED_AT
from metaxy.stores.base import latest_rows

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 1, 2, tzinfo=UTC)


def history(rows: list[tuple[str, int, datetime, str]]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema=["a", "b", UPDATED_AT, "value"], orient="row")


def test_latest_timestamp_wins_regardless_of_append_order() -> None:
    lf = history([("x", 1, T2, "new"), ("x", 1, T1, "old"), ("y", 1, T1, "only")])
    got = latest_rows(lf, ["a"]).collect().sort("a")
    assert got["value"].to_list() == ["new", "only"]


def test_ties_go_to_the_row_appended_last() -> None:
    lf = history([("x", 1, T1, "first"), ("x", 1, T1, "second"), ("x", 1, T1, "third")])
    assert latest_rows(lf, ["a"]).collect()["value"].to_list() == ["third"]


def test_several_id_columns_identify_a_sample() -> None:
    lf = history([("x", 1, T1, "x1-old"), ("x", 2, T1, "x2"), ("x", 1, T2, "x1-new"), ("y", 1, T1, "y1")])
    got = latest_rows(lf, ["a", "b"]).collect().sort("a", "b")
    assert got["value"].to_list() == ["x1-new", "x2", "y1"]
