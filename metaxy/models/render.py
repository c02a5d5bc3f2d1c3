"""Renderings of feature graphs: Mermaid and Graphviz text, and HTML (an inline SVG) for notebooks."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metaxy.models.graph import FeatureGraph
    from metaxy.models.keys import FeatureKey

_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 200, 46, 60, 24


def _node_id(key: FeatureKey) -> str:
    return "_".join(key.parts).replace("-", "_")


def graph_mermaid(graph: FeatureGraph, keys: Sequence[FeatureKey] | None = None) -> str:
    """A Mermaid flowchart (left to right): one node per feature with its version and fields."""
    keys = list(keys) if keys is not None else graph.topological_order()
    lines = ["flowchart LR"]
    for key in keys:
        fields = ", ".join(graph.field_versions(key))
        label = f"{key.to_string()}<br/>v{graph.feature_version(key)}<br/>{fields}"
        lines.append(f'    {_node_id(key)}["{label}"]')
    for key in keys:
        for dep in graph.spec(key).deps:
            if dep.feature in keys:
                lines.append(f"    {_node_id(dep.feature)} --> {_node_id(key)}")
    return "\n".join(lines)


def graph_dot(graph: FeatureGraph, keys: Sequence[FeatureKey] | None = None) -> str:
    """A Graphviz ``digraph``: one record per feature, one edge per dependency."""
    keys = list(keys) if keys is not None else graph.topological_order()
    lines = ["digraph metaxy {", "    rankdir=LR;", "    node [shape=record];"]
    for key in keys:
        fields = "|".join(f"{f}: {v}" for f, v in graph.field_versions(key).items())
        label = f"{{{key.to_string()} ({graph.feature_version(key)})|{fields}}}"
        lines.append(f'    "{key.to_string()}" [label="{label}"];')
    for key in keys:
        for dep in graph.spec(key).deps:
            if dep.feature in keys:
                lines.append(f'    "{dep.feature.to_string()}" -> "{key.to_string()}";')
    lines.append("}")
    return "\n".join(lines)


Point = tuple[float, float]


def svg_layout(graph: FeatureGraph) -> tuple[dict[FeatureKey, Point], list[list[Point]]]:
    """Top-left corner of each feature's box, and each dependency's path (upstream to downstream).

    Boxes sit in columns by dependency depth, on a shared row grid. An edge between neighbouring
    columns is one straight segment across the gap; an edge that skips columns runs only through
    gaps: out to the gap after its source column, along the gap between two rows, and into the gap
    before its target column. So no edge ever crosses a box.
    """
    order = graph.topological_order()
    depth: dict[FeatureKey, int] = {}
    for key in order:
        depth[key] = 1 + max((depth[d.feature] for d in graph.spec(key).deps), default=-1)
    columns: dict[int, list[FeatureKey]] = {}
    for key in order:
        columns.setdefault(depth[key], []).append(key)
    pos: dict[FeatureKey, Point] = {
        key: (10 + col * (_BOX_W + _GAP_X), 10 + row * (_BOX_H + _GAP_Y))
        for col, keys in columns.items()
        for row, key in enumerate(keys)
    }
    rows = max((len(k) for k in columns.values()), default=0)
    edges = [_route(pos[d.feature], pos[key], rows) for key in order for d in graph.spec(key).deps]
    return pos, edges


def _route(source: Point, target: Point, rows: int) -> list[Point]:
    start = (source[0] + _BOX_W, source[1] + _BOX_H / 2)
    end = (target[0], target[1] + _BOX_H / 2)
    if target[0] - source[0] <= _BOX_W + _GAP_X:  # neighbouring columns: the segment stays in the gap
        return [start, end]
    # the horizontal run follows the row gap nearest to halfway between the two ends
    middle = (start[1] + end[1]) / 2
    gaps = [10 + r * (_BOX_H + _GAP_Y) - _GAP_Y / 2 for r in range(1, rows + 1)]
    lane = min(gaps, key=lambda y: abs(y - middle))
    out_x, in_x = start[0] + _GAP_X / 2, end[0] - _GAP_X / 2
    return [start, (out_x, start[1]), (out_x, lane), (in_x, lane), (in_x, end[1]), end]


def graph_svg(graph: FeatureGraph) -> str:
    """Features as boxes in columns by dependency depth, dependencies as arrows (left to right)."""
    pos, edges = svg_layout(graph)
    columns = {x for x, _ in pos.values()}
    rows = {y for _, y in pos.values()}
    width = 20 + len(columns) * (_BOX_W + _GAP_X) - _GAP_X if columns else 20
    height = 20 + len(rows) * (_BOX_H + _GAP_Y)
    parts = [_arrow_marker()]
    for path in edges:
        points = " ".join(f"{x:g},{y:g}" for x, y in path)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#555" marker-end="url(#mx-arrow)"/>')
    for key, (x, y) in pos.items():
        parts.append(_box(graph, key, int(x), int(y)))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">{"".join(parts)}</svg>'
    )


def _arrow_marker() -> str:
    return (
        '<defs><marker id="mx-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>'
    )


def _box(graph: FeatureGraph, key: FeatureKey, x: int, y: int) -> str:
    fields = ", ".join(graph.field_versions(key))
    return (
        f"<g><title>{html.escape(graph.spec(key).description or key.to_string())}</title>"
        f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="#eef3fb" stroke="#4a6fa5"/>'
        f'<text x="{x + 8}" y="{y + 18}" font-weight="bold">{html.escape(key.to_string())}</text>'
        f'<text x="{x + 8}" y="{y + 36}" fill="#444">v{graph.feature_version(key)} · {html.escape(fields)}</text></g>'
    )


def graph_html(graph: FeatureGraph) -> str:
    """The drawn graph, then a table of features (in dependency order) with fields, versions, upstreams."""
    rows = []
    for key in graph.topological_order():
        spec = graph.spec(key)
        fields = ", ".join(f"{f}@{v}" for f, v in graph.field_versions(key).items())
        ups = ", ".join(d.feature.to_string() for d in spec.deps) or "—"
        rows.append(
            f"<tr><td><b>{html.escape(key.to_string())}</b></td><td>{graph.feature_version(key)}</td>"
            f"<td>{html.escape(fields)}</td><td>{html.escape(ups)}</td></tr>"
        )
    head = "<tr><th>feature</th><th>version</th><th>fields</th><th>upstream</th></tr>"
    table = f"<table><caption>FeatureGraph ({len(graph)} features)</caption>{head}{''.join(rows)}</table>"
    return f"<div>{graph_svg(graph)}{table}</div>"


def feature_class_html(cls: Any) -> str:
    """A feature class as a card: key, description, versions, fields with parents, columns, deps."""
    spec = cls.spec()
    graph = cls.graph()
    plan = graph.plan(spec.key)
    rows = "".join(
        f"<tr><td>{html.escape(f.key.to_string())}</td><td>{html.escape(spec.field(f.key).code_version)}</td>"
        f"<td>{plan.field_versions[f.key]}</td>"
        f"<td>{html.escape(', '.join(p.label for p in f.parents) or '—')}</td></tr>"
        for f in plan.fields
    )
    deps = ", ".join(d.feature.to_string() for d in spec.deps) or "none (root feature)"
    columns = ", ".join([*spec.id_columns, *cls.model_fields])
    description = f"<p>{html.escape(spec.description)}</p>" if spec.description else ""
    return (
        f"<div><b>{html.escape(cls.__qualname__)}</b> — feature <code>{html.escape(spec.key.to_string())}</code> "
        f"version <code>{plan.feature_version}</code>{description}"
        f"<p>columns: {html.escape(columns)}<br/>upstream: {html.escape(deps)}</p>"
        "<table><tr><th>field</th><th>code version</th><th>version</th><th>parents</th></tr>"
        f"{rows}</table></div>"
    )
