"""The row-aligned shortcuts of the Polars engine give exactly what its joins give.

When collected upstream frames (or the expected and the stored rows) hold the same unique keys in the
same order, the engine concatenates or compares them row by row instead of joining. These tests pin
when that applies (``rows_line_up``) and, over random frames in random orders with repeated ids, that
the results equal the join path's.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import metaxy as mx
from metaxy.constants import DATA_VERSION_BY_FIELD, FEATURE_VERSION, PROVENANCE
from metaxy.models.plan import FeaturePlan
from metaxy.versioning.hashing import HashSettings
from metaxy.versioning.increment import Increment
from metaxy.versioning.lineage import comparison_columns
from metaxy.versioning.polars_engine import PolarsEngine, rows_line_up

ENGINE = PolarsEngine(HashSettings("xxhash64", 8))


@pytest.mark.parametrize(
    ("ids", "other", "lines_up"),
    [
        ([1, 2, 3], [1, 2, 3], True),
        ([3, 1, 2], [3, 1, 2], True),  # same order, not sorted: uniqueness checked by hashing
        ([1, 2, 3], [1, 3, 2], False),
        ([1, 2, 3], [1, 2], False),
        ([1, 1, 2], [1, 1, 2], False),  # a join would pair the duplicates crosswise
        ([1, None, 3], [1, None, 3], False),  # a join drops null keys
        ([], [], True),
    ],
)
def test_rows_line_up_only_for_the_same_unique_keys_in_the_same_order(
    ids: list[int | None], other: list[int | None], lines_up: bool
) -> None:
    a = pl.DataFrame({"id": ids}, schema={"id": pl.Int64})
    b = pl.DataFrame({"id": other}, schema={"id": pl.Int64})
    assert rows_line_up([a, b], ["id"]) is lines_up


def test_rows_line_up_with_keys_that_cannot_be_ordered() -> None:
    nested = pl.DataFrame({"id": [[2], [1], [3]]})  # `>` is not defined for lists: uniqueness is hashed
    assert rows_line_up([nested, nested.clone()], ["id"])
    assert not rows_line_up([pl.concat([nested, nested])] * 2, ["id"])


def test_rows_line_up_needs_equal_key_types_and_every_key_column() -> None:
    a = pl.DataFrame({"id": [1, 2], "part": ["x", "y"]})
    assert not rows_line_up([a, a.with_columns(pl.col("id").cast(pl.UInt32))], ["id"])
    assert not rows_line_up([a, a.with_columns(part=pl.lit("x"))], ["id", "part"])
    assert rows_line_up([a, a.select("part", "id")], ["id", "part"])
    assert not rows_line_up([pl.DataFrame({"id": [1, 1], "part": ["x", "x"]})] * 2, ["id", "part"])


def two_roots_and_leaf() -> FeaturePlan:
    graph = mx.FeatureGraph()
    with graph.use():

        class A(
            mx.Feature, spec=mx.FeatureSpec(key="a", fields=[mx.FieldSpec(key="x"), mx.FieldSpec(key="y")])
        ):
            pass

        class B(mx.Feature, spec=mx.FeatureSpec(key="b", fields=[mx.FieldSpec(key="x")])):
            pass

        class Leaf(
            mx.Feature,
            spec=mx.FeatureSpec(key="leaf", deps=[mx.FeatureDep(feature=A), mx.FeatureDep(feature=B)]),
        ):
            pass

        return graph.plan(Leaf.spec().key)


PLAN = two_roots_and_leaf()
# small id and version alphabets, so frames overlap, repeat and differ in every way
ids = st.lists(st.integers(0, 5), max_size=8)
versions = st.sampled_from(["v1", "v2"])


def upstream(sample_ids: list[int], data: st.DataObject, fields: list[str]) -> pl.DataFrame:
    by_field = {f: [data.draw(versions) for _ in sample_ids] for f in fields}
    frame = pl.DataFrame({"sample_uid": sample_ids}, schema={"sample_uid": pl.Int64})
    return frame.with_columns(
        pl.DataFrame(by_field, schema=dict.fromkeys(fields, pl.String)).to_struct(DATA_VERSION_BY_FIELD)
    )


def as_set(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return sorted(frame.select(sorted(frame.columns)).rows(), key=repr)


def same_increment(a: Increment[pl.DataFrame], b: Increment[pl.DataFrame]) -> None:
    for part in ("new", "stale", "orphaned"):
        left, right = getattr(a, part), getattr(b, part)
        assert left.schema == right.schema, part
        assert as_set(left) == as_set(right), part


@given(a_ids=ids, data=st.data())
def test_collected_upstream_gives_the_joined_expected_rows(a_ids: list[int], data: st.DataObject) -> None:
    # B lists A's ids in the same order (the shortcut), shuffled, or others altogether
    b_ids = data.draw(st.sampled_from([a_ids, a_ids[::-1], data.draw(ids)]))
    upstream_frames = {
        PLAN.spec.deps[0].feature: upstream(a_ids, data, ["x", "y"]),
        PLAN.spec.deps[1].feature: upstream(b_ids, data, ["x"]),
    }
    prepared = ENGINE.prepare(PLAN, {k: f.lazy() for k, f in upstream_frames.items()})
    collected = {k: f.collect() for k, f in prepared.items()}
    joined = ENGINE.expected_from(PLAN, prepared).collect()
    assert as_set(ENGINE.expected_from(PLAN, collected).collect()) == as_set(joined)


@given(expected_ids=ids, data=st.data())
def test_row_by_row_increment_equals_the_joined_one(expected_ids: list[int], data: st.DataObject) -> None:
    unique = list(dict.fromkeys(expected_ids))
    expected = pl.DataFrame(
        {"sample_uid": unique, PROVENANCE: [data.draw(versions) for _ in unique]},
        schema={"sample_uid": pl.Int64, PROVENANCE: pl.String},
    )
    # stored rows: the same samples in the same order (the shortcut), reversed, or other samples
    stored_ids = data.draw(st.sampled_from([unique, unique[::-1], list(dict.fromkeys(data.draw(ids)))]))
    current = pl.DataFrame(
        {
            "sample_uid": stored_ids,
            PROVENANCE: [data.draw(versions) for _ in stored_ids],
            FEATURE_VERSION: [data.draw(st.sampled_from([PLAN.feature_version, "old"])) for _ in stored_ids],
        },
        schema={"sample_uid": pl.Int64, PROVENANCE: pl.String, FEATURE_VERSION: pl.String},
    ).select(comparison_columns(PLAN))
    joined = ENGINE.increment(PLAN, expected.lazy(), current.lazy()).collect()
    same_increment(ENGINE.increment_of_frames(PLAN, expected, current), joined)


@given(a_ids=ids, stored_ids=ids, data=st.data())
def test_reading_the_stored_rows_beside_the_upstream_gives_the_same_increment(
    a_ids: list[int], stored_ids: list[int], data: st.DataObject
) -> None:
    """``stored_beside_upstream`` changes when the stored rows are read, not what is decided."""
    upstream_frames = {
        PLAN.spec.deps[0].feature: upstream(a_ids, data, ["x", "y"]).lazy(),
        PLAN.spec.deps[1].feature: upstream(a_ids[::-1], data, ["x"]).lazy(),
    }
    unique = list(dict.fromkeys(stored_ids))
    expected = ENGINE.resolve(PLAN, None, upstream=upstream_frames).new
    provenance = dict(zip(expected["sample_uid"], expected[PROVENANCE], strict=True))
    current = pl.DataFrame(  # stored rows: some as expected, some stale, some orphaned, an extra column
        {
            "sample_uid": unique,
            PROVENANCE: [data.draw(st.sampled_from([provenance.get(i, "gone"), "old"])) for i in unique],
            FEATURE_VERSION: [PLAN.feature_version] * len(unique),
            "path": [f"p{i}" for i in unique],
        },
        schema={"sample_uid": pl.Int64, PROVENANCE: pl.String, FEATURE_VERSION: pl.String, "path": pl.String},
    ).lazy()
    filters = data.draw(st.sampled_from([[], [pl.col("sample_uid") < 3]]))
    after, beside = (
        ENGINE.resolve(PLAN, current, upstream=upstream_frames, filters=filters, stored_beside_upstream=b)
        for b in (False, True)
    )
    same_increment(beside, after)
