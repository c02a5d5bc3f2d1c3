"""Increment semantics every store shares: graphs given per feature, expansions, empty materializations.

Tests never name a backend: the ``store`` fixture varies.
"""

from __future__ import annotations

import polars as pl

import metaxy as mx


def test_a_feature_defined_in_its_own_graph_resolves_outside_that_block(store: mx.MetadataStore) -> None:
    graph = mx.FeatureGraph()
    with graph.use():

        class Up(mx.Feature, spec=mx.FeatureSpec(key="own/up", fields=[mx.FieldSpec(key="a")])):
            pass

        class Down(mx.Feature, spec=mx.FeatureSpec(key="own/down", deps=[mx.FeatureDep(feature=Up)])):
            pass

    assert "own/up" not in mx.FeatureGraph.get_active()
    store.write_metadata(
        Up, pl.DataFrame({"sample_uid": [1, 2], "metaxy_provenance_by_field": [{"a": "1"}, {"a": "2"}]})
    )
    increment = store.resolve_update(Down)
    assert sorted(increment.new["sample_uid"]) == [1, 2]
    store.write_metadata(Down, increment.new)
    assert store.resolve_update(Down).is_empty
