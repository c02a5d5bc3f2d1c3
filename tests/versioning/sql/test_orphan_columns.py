"""The resolution query joins expected rows with the stored rows; how much of the stored rows it carries.

Stores ask for the columns the comparison reads alone (``full_orphans=False``) and read the orphans'
other columns themselves; the conformance suite checks that orphans still come back whole.
"""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.versioning.lineage import comparison_columns
from metaxy.versioning.sql import SQLEngine
from tests.stores.graphs import video_graph, videos


@pytest.mark.parametrize("full_orphans", [True, False])
def test_orphaned_rows_carry_every_stored_column_or_the_compared_ones(full_orphans: bool) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(":memory:", hash_algorithm="md5", versioning_engine="native") as store:
        store.write_metadata(g.video, videos([1, 2]))
        leaf = store.resolve_update(g.transcript).new.with_columns(note=pl.lit("a user column"))
        store.write_metadata(g.transcript, leaf)
        store.delete_metadata(g.video, filters=pl.col("sample_uid") == 2)
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
