"""Resolutions split into ranges of ids (``resolve_batch_rows``): the same increment as one read, and
which resolutions may be split at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import metaxy as mx
from metaxy.exceptions import ConfigError
from metaxy.models.keys import FeatureKey
from metaxy.stores._ranges import NO_ROWS, IdBounds, id_ranges, range_column
from metaxy.stores._read import ReadRequest
from metaxy.versioning.polars_engine import _unpinned
from tests.stores.graphs import video_graph, videos

ID = "sample_uid"


class RangeReads(mx.DuckDBMetadataStore):
    """A DuckDB store that records the filters of every read a resolution makes."""

    reads: list[tuple[str, tuple[pl.Expr, ...]]]
    graphs: set[int]

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        self.reads = [*getattr(self, "reads", []), (request.key.to_string(), request.filters)]
        self.graphs = {*getattr(self, "graphs", set()), id(mx.FeatureGraph.get_active())}
        return super()._read_rows(request)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RangeReads]:
    with RangeReads(tmp_path / "m.duckdb", resolve_batch_rows=None) as opened:
        yield opened


def _both_ways(store: RangeReads, feature: Any, rows: int, **kwargs: Any) -> tuple[Any, Any]:
    """The increment read at once, then by ranges of ``rows`` rows."""
    store.resolve_batch_rows = None
    whole = store.resolve_update(feature, **kwargs)
    store.resolve_batch_rows = rows
    store.reads = []
    ranged = store.resolve_update(feature, **kwargs)
    return whole, ranged


def _assert_same(whole: Any, ranged: Any) -> None:
    """The same rows in each part of the two increments, in any order (ids are unique per part)."""
    for part in ("new", "stale", "orphaned"):
        assert_frame_equal(getattr(whole, part).sort(ID), getattr(ranged, part).sort(ID))


def test_a_resolution_in_ranges_reads_each_range_and_finds_the_same_increment(store: RangeReads) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(20))))
    written = store.resolve_update(g.transcript).new
    store.write_metadata(g.transcript, written.filter(pl.col(ID) < 15))  # 15..19 stay new
    store.write_metadata(g.video, videos([3, 7, 11], audio="b"))  # history: 3, 7, 11 stale
    store.delete_metadata(g.video, filters=pl.col(ID) == 5)  # 5 orphaned
    extra = written.filter(pl.col(ID) < 2).with_columns(pl.col(ID) + 20)  # beyond upstream's ids
    store.write_metadata(g.transcript, extra)

    whole, ranged = _both_ways(store, g.transcript, rows=4)

    _assert_same(whole, ranged)
    assert sorted(ranged.new[ID]) == [15, 16, 17, 18, 19]
    assert sorted(ranged.stale[ID]) == [3, 7, 11]
    assert sorted(ranged.orphaned[ID]) == [5, 20, 21]
    # 20 + 3 rows of history, ~4 per range: six ranges of the ids 0..21, each reading the feature's
    # rows and its upstream's through the range's filter (then the failed samples are read, unfiltered);
    # a range with orphans reads them back whole by their ids (the ranges of 5 and of 20, 21)
    ranged_reads = [(key, filters) for key, filters in store.reads if len(filters) == 1]
    assert sorted(key for key, _ in ranged_reads) == ["video/raw"] * 6 + ["video/transcript"] * 6
    orphans_read = [(key, str(filters[1])) for key, filters in store.reads if len(filters) == 2]
    assert sorted(orphans_read) == [
        ("video/transcript", 'col("sample_uid").is_in([[20, 21]])'),
        ("video/transcript", 'col("sample_uid").is_in([[5]])'),
    ]
    assert len(store.reads) == len(ranged_reads) + len(orphans_read) + sum(not f for _, f in store.reads)


def test_ranges_run_two_at_a_time_in_the_callers_graph(store: RangeReads) -> None:
    graph = mx.FeatureGraph()
    with graph.use():
        g = video_graph()
        store.write_metadata(g.video, videos(list(range(12))))
        store.graphs = set()
        _, ranged = _both_ways(store, g.transcript, rows=2)
    assert ranged.new.height == 12
    assert store.graphs == {id(graph)}  # the worker threads see the caller's active graph


def test_filters_and_shards_apply_within_each_range(store: RangeReads) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(30))))
    filters = pl.col(ID).is_between(4, 21)
    whole, ranged = _both_ways(store, g.transcript, rows=5, filters=filters)
    _assert_same(whole, ranged)
    assert sorted(ranged.new[ID]) == list(range(4, 22))
    whole, ranged = _both_ways(store, g.transcript, rows=5, shard=(1, 3))
    _assert_same(whole, ranged)
    assert 0 < ranged.new.height < 30


def test_small_resolutions_read_at_once(store: RangeReads) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(10))))
    store.resolve_batch_rows = 10  # no table holds more rows than this
    store.reads = []
    assert store.resolve_update(g.transcript).new.height == 10
    assert all(filters == () for _, filters in store.reads)


@pytest.mark.parametrize(("upstream_rows", "split"), [(None, False), (2, True)])
def test_upstream_in_a_fallback_splits_only_if_that_store_reads_by_ranges(
    tmp_path: Path, upstream_rows: int | None, split: bool
) -> None:
    g = video_graph()
    prod = mx.DuckDBMetadataStore(tmp_path / "prod.duckdb", name="prod", resolve_batch_rows=upstream_rows)
    with prod:
        prod.write_metadata(g.video, videos(list(range(10))))
    with RangeReads(tmp_path / "dev.duckdb", fallback_stores=[prod], resolve_batch_rows=2) as dev:
        dev.reads = []
        assert dev.resolve_update(g.transcript).new.height == 10
        assert any(filters for _, filters in dev.reads) is split


@given(
    ids=st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=40, unique=True),
    rewritten=st.integers(0, 40),
    written=st.integers(0, 40),
    rows=st.integers(1, 7),
)
def test_ranges_find_what_one_read_finds(ids: list[int], rewritten: int, written: int, rows: int) -> None:
    g = video_graph()
    with RangeReads(":memory:", resolve_batch_rows=None) as store:
        store.write_metadata(g.video, videos(ids))
        store.write_metadata(g.transcript, store.resolve_update(g.transcript).new.head(written))
        if ids[:rewritten]:
            store.write_metadata(g.video, videos(ids[:rewritten], audio="b"))
        store.delete_metadata(g.video, filters=pl.col(ID).is_in(ids[-1:]))
        whole, ranged = _both_ways(store, g.transcript, rows=rows)
        _assert_same(whole, ranged)


def test_ranges_cover_every_id_once(store: RangeReads) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([-7, 0, 3, 50, 51, 99]))
    store.resolve_batch_rows = 2
    plan = mx.FeatureGraph.get_active().plan(g.transcript.spec().key)
    ranges = id_ranges(store, plan, {g.video.spec().key: store})
    assert len(ranges) == 3
    probe = pl.DataFrame({ID: [-(2**63), -8, -7, 0, 28, 29, 30, 64, 65, 99, 100, 2**63 - 1]})
    matched = probe.select(pl.sum_horizontal([r.cast(pl.Int8) for r in ranges]))
    assert matched.to_series().to_list() == [1] * probe.height


def test_id_bounds(store: RangeReads) -> None:
    g = video_graph()
    key = g.video.spec().key
    assert store._id_bounds(key, ID) == NO_ROWS
    store.write_metadata(g.video, videos([4, -2, 9]))
    store.write_metadata(g.video, videos([4]))
    assert store._id_bounds(key, ID) == IdBounds(-2, 9, 4)
    assert store._id_bounds(key, "path") is None  # strings: no ranges
    assert store._id_bounds(key, "missing") is None


def _field(key: str) -> mx.FieldSpec:
    return mx.FieldSpec(key=key, code_version="1")


def test_only_resolutions_on_one_shared_integer_id_split() -> None:
    g = video_graph()
    graph = mx.FeatureGraph.get_active()
    assert range_column(graph.plan(g.transcript.spec().key)) == ID
    assert range_column(graph.plan(g.video.spec().key)) is None  # a root: its samples are given

    class Chunk(
        mx.Feature, spec=mx.FeatureSpec(key="chunk", id_columns=["chunk_id"], fields=[_field("audio")])
    ):
        speaker: int

    class Speaker(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="speaker",
            id_columns=["speaker"],
            deps=[mx.FeatureDep(feature=Chunk, lineage=mx.LineageRelationship.aggregation(on=["speaker"]))],
            fields=[_field("profile")],
        ),
    ):
        pass

    class Clip(mx.Feature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"], fields=[_field("x")])):
        pass

    class Renamed(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="renamed",
            id_columns=["sample_uid"],
            deps=[mx.FeatureDep(feature=Clip, rename={"clip_id": "sample_uid"})],
            fields=[_field("y")],
        ),
    ):
        pass

    for feature in (Speaker, Renamed):
        assert range_column(graph.plan(FeatureKey(feature.spec().key))) is None


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "1000"])
def test_resolve_batch_rows_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(ConfigError, match="resolve_batch_rows"):
        mx.DuckDBMetadataStore(resolve_batch_rows=value)


def test_the_keys_of_the_expected_frame_are_copied_out_of_the_upstream_batches() -> None:
    """A column kept from a read holds the whole Arrow batch it came in: the keys are copied, the
    field versions (computed, not read) are left as they are."""
    parts = [pl.DataFrame({ID: [i, i + 1], "__mx_field__a": ["x", "y"]}) for i in (0, 2)]
    fields = pl.concat(parts, rechunk=False)
    unpinned = _unpinned(fields).collect()
    assert unpinned[ID].n_chunks() == 1
    assert unpinned["__mx_field__a"].n_chunks() == 2
    assert_frame_equal(unpinned, fields)
