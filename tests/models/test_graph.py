"""FeatureGraph: ordering, neighbourhoods, isolation and snapshots."""

from __future__ import annotations

import json

import polars as pl

import metaxy as mx


def diamond(graph: mx.FeatureGraph) -> None:
    graph.add_feature(mx.FeatureSpec(key="root", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")]))
    graph.add_feature(
        mx.FeatureSpec(key="left", deps=["root"], fields=[mx.FieldSpec(key="a", code_version="1")])
    )
    graph.add_feature(
        mx.FeatureSpec(
            key="right",
            deps=[mx.FeatureDep(feature="root", filters=[pl.col("x") > 1], rename={"x": "y"}, optional=True)],
            fields=[mx.FieldSpec(key="b", code_version="2")],
        )
    )
    graph.add_feature(mx.FeatureSpec(key="leaf", deps=["left", "right"], description="both sides"))


def test_topological_order_puts_upstream_first(graph: mx.FeatureGraph) -> None:
    diamond(graph)
    order = [k.to_string() for k in graph.topological_order()]
    assert order.index("root") < order.index("left") < order.index("leaf")
    assert order.index("right") < order.index("leaf")


def test_upstream_and_downstream_are_transitive(graph: mx.FeatureGraph) -> None:
    diamond(graph)
    assert [k.to_string() for k in graph.downstream_of("root")] == ["left", "right", "leaf"]
    assert [k.to_string() for k in graph.downstream_of(["left"])] == ["leaf"]
    assert {k.to_string() for k in graph.upstream_of("leaf")} == {"root", "left", "right"}


def test_snapshot_rebuilds_the_same_versions_without_user_code(graph: mx.FeatureGraph) -> None:
    diamond(graph)
    snapshot = json.loads(json.dumps(graph.snapshot()))
    rebuilt = mx.FeatureGraph.from_snapshot(snapshot)
    for key in graph.keys:
        assert rebuilt.feature_version(key) == graph.feature_version(key)
    assert rebuilt.spec("right").deps[0].rename_map == {"x": "y"}
    assert str(rebuilt.spec("right").deps[0].filters[0]) == str(pl.col("x") > 1)
    assert rebuilt.feature_class("leaf") is None
    assert rebuilt.snapshot()["project_version"] == snapshot["project_version"]


def test_isolated_graphs_do_not_leak(graph: mx.FeatureGraph) -> None:
    with mx.FeatureGraph().use() as inner:

        class Temp(mx.Feature, spec=mx.FeatureSpec(key="temp")):
            pass

    assert "temp" in inner
    assert "temp" not in graph


def test_graph_renders_as_html(graph: mx.FeatureGraph) -> None:
    diamond(graph)
    html = graph._repr_html_()
    assert "<table>" in html
    assert "leaf" in html
