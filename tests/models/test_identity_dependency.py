"""A plain (identity) dependency on an upstream with more id columns is refused when defined."""

from __future__ import annotations

import pytest

import metaxy as mx
from metaxy.exceptions import DefinitionError

CHUNK = mx.FeatureSpec(key="chunk", id_columns=["speaker", "chunk"], fields=[mx.FieldSpec(key="emb")])


def speaker(**dep: object) -> mx.FeatureSpec:
    return mx.FeatureSpec(key="speaker", id_columns=["speaker"], deps=[mx.FeatureDep(feature="chunk", **dep)])


@pytest.mark.parametrize("upstream_first", [True, False])
def test_identity_dependency_on_extra_upstream_ids_is_refused_naming_them(upstream_first: bool) -> None:
    graph = mx.FeatureGraph()
    first, second = (CHUNK, speaker()) if upstream_first else (speaker(), CHUNK)
    graph.add_feature(first)
    with pytest.raises(DefinitionError, match=r"id column\(s\) \['chunk'\]") as info:
        graph.add_feature(second)
    assert "aggregation" in str(info.value)
    assert "id_columns" in str(info.value)
    assert len(graph) == 1  # the refused definition is not registered


def test_aggregation_or_matching_ids_are_accepted() -> None:
    graph = mx.FeatureGraph()
    graph.add_feature(CHUNK)
    graph.add_feature(speaker(lineage=mx.LineageRelationship.aggregation(on=["speaker"])))
    graph.add_feature(
        mx.FeatureSpec(
            key="per_chunk", id_columns=["speaker", "chunk"], deps=[mx.FeatureDep(feature="chunk")]
        )
    )
    assert len(graph) == 3


def test_a_renamed_upstream_id_counts_under_its_new_name() -> None:
    graph = mx.FeatureGraph()
    graph.add_feature(mx.FeatureSpec(key="up", id_columns=["uid"], fields=[mx.FieldSpec(key="a")]))
    graph.add_feature(
        mx.FeatureSpec(
            key="down",
            id_columns=["sample_uid"],
            deps=[mx.FeatureDep(feature="up", rename={"uid": "sample_uid"})],
        )
    )
    assert len(graph) == 2
