"""HTML renderings of graphs for notebooks."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metaxy.models.graph import FeatureGraph


def graph_html(graph: FeatureGraph) -> str:
    """A table of features (in dependency order) with their fields, versions and upstreams."""
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
    return f"<table><caption>FeatureGraph ({len(graph)} features)</caption>{head}{''.join(rows)}</table>"
