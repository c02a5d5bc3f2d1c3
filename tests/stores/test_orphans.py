"""A resolution compares a few columns of the stored rows; how much of them the orphans carry.

The native query and the Polars engine are asked for the compared columns alone
(``full_orphans=False``); the store reads the orphans' other columns itself
(``with_orphans_in_full``). The conformance suite checks that orphans still come back whole in every
store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.stores import _orphans
from metaxy.stores.base import ReadRequest
from metaxy.versioning.lineage import comparison_columns
from metaxy.versioning.sql import SQLEngine
from tests.stores.graphs import VideoGraph, video_graph, videos

ENGINES: dict[str, dict[str, Any]] = {
    "native": {"hash_algorithm": "md5", "versioning_engine": "native"},
    "polars": {},
}


@contextmanager
def store_with_orphans(
    samples: list[int], gone: list[int], engine: str = "native"
) -> Iterator[tuple[mx.DuckDBMetadataStore, VideoGraph]]:
    """A DuckDB store (md5 versioned natively, or xxhash64 by the Polars engine) whose transcripts of
    ``gone`` lost their videos; the stored transcripts carry a user column, ``note``."""
    g = video_graph()
    with mx.DuckDBMetadataStore(":memory:", **ENGINES[engine]) as store:
        store.write_metadata(g.video, videos(samples))
        leaf = store.resolve_update(g.transcript).new.with_columns(note=pl.lit("a user column"))
        store.write_metadata(g.transcript, leaf)
        if gone:
            store.delete_metadata(g.video, filters=pl.col("sample_uid").is_in(gone))
        yield store, g


@pytest.mark.parametrize("full_orphans", [True, False])
def test_orphaned_rows_carry_every_stored_column_or_the_compared_ones(full_orphans: bool) -> None:
    with store_with_orphans([1, 2], gone=[2]) as (store, g):
        graph = mx.FeatureGraph.get_active()
        plan = graph.plan(g.transcript.spec().key)
        versions = {dep.feature: graph.feature_version(dep.feature) for dep in plan.spec.deps}
        tables = store._resolution_tables(plan, versions)
        assert tables is not None
        engine = SQLEngine(store.dialect, store.hash_settings)
        query = engine.resolve_query(plan, tables, full_orphans=full_orphans)
        orphaned = engine.split(plan, store._fetch(query)).orphaned
        stored = store.read_metadata(g.transcript).collect().columns
    assert orphaned["sample_uid"].to_list() == [2]
    assert orphaned.columns == (stored if full_orphans else comparison_columns(plan))
    assert ("note" in orphaned.columns) is full_orphans


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("by_id", [True, False], ids=["by their ids", "from the whole table"])
def test_a_resolution_reads_its_orphans_back_whole(
    by_id: bool, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few orphans are read back by their ids (an ``IN`` list), more from the whole latest table
    (the Polars engine: the rows it compared with, read once); either way they are the stored rows
    as ``read_metadata`` returns them."""
    monkeypatch.setattr(_orphans, "ORPHANS_BY_ID", 256 if by_id else 1)
    with store_with_orphans([1, 2, 3, 4], gone=[2, 4], engine=engine) as (store, g):
        reads: list[tuple[pl.Expr, ...]] = []
        real = store._read_rows

        def recording(request: ReadRequest) -> pl.LazyFrame | None:
            if request.key == g.transcript.spec().key:
                reads.append(request.filters)
            return real(request)

        monkeypatch.setattr(store, "_read_rows", recording)
        orphaned = store.resolve_update(g.transcript).orphaned.sort("sample_uid")
        monkeypatch.undo()
        stored = store.read_metadata(g.transcript, filters=pl.col("sample_uid").is_in([2, 4])).collect()
    assert orphaned.equals(stored.sort("sample_uid"))
    assert orphaned["note"].to_list() == ["a user column"] * 2
    compared = [()] if engine == "polars" else []  # the Polars engine reads the stored rows itself
    by_ids = [('col("sample_uid").is_in([[2, 4]])',)]
    expected = compared + by_ids if by_id else compared or [()]
    assert [tuple(str(f) for f in filters) for filters in reads] == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_without_orphans_they_come_typed_as_the_stored_rows(engine: str) -> None:
    with store_with_orphans([1, 2], gone=[], engine=engine) as (store, g):
        orphaned = store.resolve_update(g.transcript).orphaned
        stored = store.read_metadata(g.transcript).collect()
    assert orphaned.height == 0
    assert orphaned.schema == stored.schema
