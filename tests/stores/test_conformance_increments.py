"""Increment semantics every store shares: graphs given per feature, expansions, empty materializations.

Tests never name a backend: the ``store`` fixture varies.
"""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError
from tests.stores.graphs import bump


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


def expansion() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Video(
        mx.Feature, spec=mx.FeatureSpec(key="rex/video", id_columns=["vid"], fields=[mx.FieldSpec(key="f")])
    ):
        pass

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="rex/clip",
            id_columns=["vid", "i"],
            deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["vid"]))],
            fields=[mx.FieldSpec(key="f")],
        ),
    ):
        pass

    return Video, Clip


def videos(version: str) -> pl.DataFrame:
    return pl.DataFrame({"vid": ["a", "b"], "metaxy_provenance_by_field": [{"f": f"a{version}"}, {"f": "b"}]})


def children(parents: pl.DataFrame, count: int) -> pl.DataFrame:
    return parents.join(pl.DataFrame({"i": list(range(count))}, schema={"i": pl.Int64}), how="cross")


def test_re_expanding_a_parent_into_fewer_children_orphans_the_leftover(store: mx.MetadataStore) -> None:
    video, clip = expansion()
    store.write_metadata(video, videos("1"))
    store.write_metadata(clip, children(store.resolve_update(clip).new, 3))  # a: 0, 1, 2; b: 0, 1, 2
    store.write_metadata(video, videos("2").filter(pl.col("vid") == "a"))
    increment = store.resolve_update(clip)
    assert increment.stale["vid"].to_list() == ["a"]  # one row per parent to re-expand
    assert increment.orphaned.height == 0  # the old children await their replacement
    store.write_metadata(clip, children(increment.stale, 2))  # a re-expanded into 0 and 1 only
    after = store.resolve_update(clip)
    assert after.stale.height == 0
    assert after.new.height == 0
    assert after.orphaned.select("vid", "i").rows() == [("a", 2)]  # the leftover child, as stored
    assert "metaxy_provenance" in after.orphaned.columns


def test_every_child_of_a_parent_gone_upstream_is_orphaned(store: mx.MetadataStore) -> None:
    video, clip = expansion()
    store.write_metadata(video, videos("1"))
    store.write_metadata(clip, children(store.resolve_update(clip).new, 2))
    store.delete_metadata(video, filters=pl.col("vid") == "b")
    orphaned = store.resolve_update(clip).orphaned
    assert sorted(orphaned.select("vid", "i").rows()) == [("b", 0), ("b", 1)]


def disjoint_roots() -> tuple[type[mx.Feature], type[mx.Feature], type[mx.Feature], type[mx.Feature]]:
    class A(mx.Feature, spec=mx.FeatureSpec(key="emp/a", fields=[mx.FieldSpec(key="x")])):
        pass

    class B(mx.Feature, spec=mx.FeatureSpec(key="emp/b", fields=[mx.FieldSpec(key="x")])):
        pass

    class C(
        mx.Feature,
        spec=mx.FeatureSpec(key="emp/c", deps=[mx.FeatureDep(feature=A), mx.FeatureDep(feature=B)]),
    ):
        pass

    class D(mx.Feature, spec=mx.FeatureSpec(key="emp/d", deps=[mx.FeatureDep(feature=C)])):
        pass

    return A, B, C, D


def roots(ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"sample_uid": ids, "metaxy_provenance_by_field": [{"x": str(i)} for i in ids]},
        schema_overrides={"sample_uid": pl.Int64},
    )


def test_an_empty_materialization_lets_downstream_resolve_to_an_empty_increment(
    store: mx.MetadataStore,
) -> None:
    a, b, c, d = disjoint_roots()
    store.write_metadata(a, roots([1, 2]))
    store.write_metadata(b, roots([3]))
    empty = store.resolve_update(c).new
    assert empty.height == 0
    store.write_metadata(c, empty)
    assert store.has_feature(c)
    assert store.read_metadata(c).collect().height == 0
    assert store.resolve_update(d).is_empty
    assert store.resolve_update(c).is_empty


def test_an_upstream_stored_only_under_an_older_version_is_refused_saying_so(store: mx.MetadataStore) -> None:
    a, _, _, _ = disjoint_roots()

    class E(mx.Feature, spec=mx.FeatureSpec(key="emp/e", deps=[mx.FeatureDep(feature=a)])):
        pass

    store.write_metadata(a, roots([1, 2, 3]))
    old = a.feature_version()
    bump("emp/a", "x", "2")
    with pytest.raises(FeatureNotFoundError, match=rf"3 row\(s\) under feature version {old}") as info:
        store.resolve_update(E)
    assert "migrate" in str(info.value)
