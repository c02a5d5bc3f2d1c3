"""Notebook renderings: graphs draw as SVG, feature classes and increments render as HTML."""

from __future__ import annotations

import polars as pl
from IPython.core.formatters import HTMLFormatter

import metaxy as mx
from metaxy.models.render import graph_dot, graph_mermaid


def define(graph: mx.FeatureGraph) -> type[mx.Feature]:
    class Parent(
        mx.Feature, spec=mx.FeatureSpec(key="parent", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")])
    ):
        pass

    class Child(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="child/x", deps=[mx.FeatureDep(feature=Parent)], description="A <child> feature."
        ),
    ):
        score: float

    return Child


def test_graph_html_draws_an_svg_with_one_box_and_arrow_per_dependency(graph: mx.FeatureGraph) -> None:
    define(graph)
    html = HTMLFormatter()(graph)
    assert html.count("<rect") == 2
    assert html.count("<line") == 1
    assert "child/x" in html
    assert "&lt;child&gt;" in html  # descriptions are escaped


def test_feature_class_renders_in_ipython_but_rows_do_not(graph: mx.FeatureGraph) -> None:
    child = define(graph)
    html = HTMLFormatter()(child)
    assert html is not None
    for expected in ("child/x", child.feature_version(), "parent.a", "score"):
        assert expected in html
    assert HTMLFormatter()(child(sample_uid="s1", score=1.0)) is None
    assert "not a feature" in HTMLFormatter()(mx.Feature)


def test_increment_html_shows_counts_and_previews() -> None:
    frame = pl.DataFrame({"sample_uid": ["a", "b"]})
    html = HTMLFormatter()(mx.Increment(frame, frame.clear(), frame.head(1)))
    for expected in ("new</b>: 2 rows", "stale</b>: 0 rows", "orphaned</b>: 1 rows"):
        assert expected in html


def test_mermaid_and_dot_name_every_feature_and_edge(graph: mx.FeatureGraph) -> None:
    define(graph)
    assert "parent --> child_x" in graph_mermaid(graph)
    assert '"parent" -> "child/x";' in graph_dot(graph)
