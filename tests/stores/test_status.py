"""``store_status``: the counts behind ``metaxy status``, on a small chain of features."""

from __future__ import annotations

import polars as pl

import metaxy as mx
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.models.keys import FeatureKey
from metaxy.ops.status import store_status


def test_status_counts_and_reports_progress_per_feature(graph: mx.FeatureGraph) -> None:
    class Root(mx.Feature, spec=mx.FeatureSpec(key="root")):
        pass

    class Leaf(mx.Feature, spec=mx.FeatureSpec(key="leaf", deps=[mx.FeatureDep(feature=Root)])):
        pass

    seen: list[FeatureKey] = []
    with mx.InMemoryMetadataStore() as store:
        assert [s.state for s in store_status(store, graph)] == ["empty", "upstream-missing"]
        samples = pl.DataFrame({"sample_uid": ["a", "b"]}).with_columns(
            pl.struct(pl.lit("x").alias("default")).alias(PROVENANCE_BY_FIELD)
        )
        store.write_metadata(Root, samples)
        rows = store_status(store, graph, on_feature=seen.append)
    assert seen == [FeatureKey("root"), FeatureKey("leaf")]
    by_key = {r.key.to_string(): r.to_dict() for r in rows}
    assert by_key["root"] == {
        "feature": "root",
        "root": True,
        "stored": 2,
        "new": 0,
        "stale": 0,
        "orphaned": 0,
        "state": "in-sync",
    }
    assert (by_key["leaf"]["new"], by_key["leaf"]["state"]) == (2, "to-do")
