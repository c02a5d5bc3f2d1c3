"""Latest-row-wins: the latest stored row per id wins, append order breaks timestamp ties.

``latest_rows`` (lazy) and ``pick_latest`` (eager, with shortcuts) are two forms of one rule; every case
runs against both, and a property test compares them with a brute-force pick over plain tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaxy.constants import UPDATED_AT
from metaxy.stores._latest import ids_unique, latest_rows, pick_latest
from metaxy.stores._sql import row_runs

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 1, 2, tzinfo=UTC)

Pick = Callable[[pl.DataFrame, Sequence[str]], pl.DataFrame]
PICKS: dict[str, Pick] = {
    "lazy": lambda df, ids: latest_rows(df.lazy(), ids).collect(),
    "eager": pick_latest,
}
picks = pytest.mark.parametrize("pick", PICKS.values(), ids=PICKS.keys())


def history(rows: list[tuple[object, int, datetime, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["a", "b", UPDATED_AT, "value"], orient="row")


@picks
@pytest.mark.parametrize("ids", [("x", "y"), (1, 2)], ids=["string ids", "integer ids"])
def test_latest_timestamp_wins_regardless_of_append_order(pick: Pick, ids: tuple[object, object]) -> None:
    x, y = ids
    df = history([(x, 1, T2, "new"), (x, 1, T1, "old"), (y, 1, T1, "only")])
    assert pick(df, ["a"]).sort("a")["value"].to_list() == ["new", "only"]


@picks
@pytest.mark.parametrize("sample", ["x", 7], ids=["string id", "integer id"])
def test_ties_go_to_the_row_appended_last(pick: Pick, sample: object) -> None:
    df = history([(sample, 1, T1, "first"), (sample, 1, T1, "second"), (sample, 1, T1, "third")])
    assert pick(df, ["a"])["value"].to_list() == ["third"]


@picks
def test_several_id_columns_identify_a_sample(pick: Pick) -> None:
    df = history([("x", 1, T1, "x1-old"), ("x", 2, T1, "x2"), ("x", 1, T2, "x1-new"), ("y", 1, T1, "y1")])
    assert pick(df, ["a", "b"]).sort("a", "b")["value"].to_list() == ["x1-new", "x2", "y1"]


@picks
def test_unique_ids_keep_every_row(pick: Pick) -> None:
    df = history([(3, 1, T2, "c"), (1, 1, T1, "a"), (2, 1, T1, "b")])
    assert sorted(pick(df, ["a"])["value"].to_list()) == ["a", "b", "c"]


@picks
@pytest.mark.parametrize("n", [0, 1])
def test_no_row_or_one_is_its_own_latest(pick: Pick, n: int) -> None:
    df = history([(7, 1, T1, "only")]).head(n)  # typed columns, as a read returns them
    assert pick(df, ["a"])["value"].to_list() == ["only"][:n]
    assert ids_unique(df, ["a"])


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3)),  # (sample, timestamp step): few of each, so ties
        max_size=30,
    ),
    as_string=st.booleans(),
)
def test_eager_and_lazy_agree_with_a_brute_force_pick(rows: list[tuple[int, int]], as_string: bool) -> None:
    ids = [str(s) if as_string else s for s, _ in rows]
    df = pl.DataFrame(
        {
            "a": ids,
            UPDATED_AT: [T1 + timedelta(seconds=step) for _, step in rows],
            "position": list(range(len(rows))),
        },
        schema_overrides={"a": pl.String if as_string else pl.Int64, UPDATED_AT: pl.Datetime("us", "UTC")},
    )
    latest: dict[object, tuple[int, int]] = {}  # sample -> (timestamp step, position) of the winner
    for position, (sample, step) in enumerate(rows):
        if sample not in latest or (step, position) >= latest[sample]:
            latest[sample] = (step, position)
    expected = sorted(position for _, position in latest.values())
    for pick in PICKS.values():
        assert sorted(pick(df, ["a"])["position"].to_list()) == expected


def test_row_runs_are_the_ranges_of_consecutive_row_numbers() -> None:
    assert row_runs(pl.Series([1, 2, 3, 7, 9, 10])) == [(1, 3), (7, 7), (9, 10)]
    assert row_runs(pl.Series([5])) == [(5, 5)]
    assert row_runs(pl.Series([], dtype=pl.Int64)) == []
    assert row_runs(pl.Series([4, 5, 6, 7])) == [(4, 7)]  # one run, told by its ends
    assert row_runs(pl.Series([0, 1, 3, 4])) == [(0, 1), (3, 4)]  # a gap: more numbers than values
