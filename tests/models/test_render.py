"""Notebook renderings: graphs draw as SVG, feature classes and increments render as HTML."""

from __future__ import annotations

import itertools

import polars as pl
from IPython.core.formatters import HTMLFormatter

import metaxy as mx
from metaxy.models.render import _BOX_H, _BOX_W, graph_dot, graph_mermaid, svg_layout


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
    assert html.count("<polyline") == 1
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


def _crosses(a: tuple[float, float], b: tuple[float, float], box: tuple[float, float]) -> bool:
    """Whether the axis-parallel or sloped segment a-b passes through the interior of ``box``."""
    (x0, y0), (x1, y1) = box, (box[0] + _BOX_W, box[1] + _BOX_H)
    steps = 200  # sample the segment: exact enough for boxes hundreds of units wide
    for i in range(steps + 1):
        x = a[0] + (b[0] - a[0]) * i / steps
        y = a[1] + (b[1] - a[1]) * i / steps
        if x0 < x < x1 and y0 < y < y1:
            return True
    return False


def test_graph_svg_edges_never_cross_a_box(graph: mx.FeatureGraph) -> None:
    """The notebook's multimodal shape: edges that skip a column (video -> summary) used to cut through boxes."""

    def feature(key: str, *deps: type[mx.Feature]) -> type[mx.Feature]:
        spec = mx.FeatureSpec(key=key, deps=[mx.FeatureDep(feature=d) for d in deps])
        return type(key.replace("/", "_"), (mx.Feature,), {}, spec=spec)

    video = feature("video")
    audio = feature("audio")
    frames = feature("frames", video)
    transcript = feature("transcript", video, audio)
    faces = feature("faces", frames)
    embedding = feature("embedding", faces, transcript)
    feature("summary", video, audio, embedding, frames)
    boxes, edges = svg_layout(graph)
    assert len(edges) == 10
    for path in edges:
        for a, b in itertools.pairwise(path):
            assert not any(_crosses(a, b, box) for box in boxes.values()), path
