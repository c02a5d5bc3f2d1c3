"""Plain-data descriptions of features and graphs (what ``metaxy list/show/graph`` print as JSON)."""

from __future__ import annotations

from typing import Any

from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey


def describe_feature(graph: FeatureGraph, key: Any) -> dict[str, Any]:
    """Key, description, id and user columns, fields with versions and parent fields, deps, downstream."""
    key = coerce_feature_key(key)
    spec = graph.spec(key)
    plan = graph.plan(key)
    cls = graph.feature_class(key)
    code_versions = {f.key: f.code_version for f in spec.fields}
    return {
        "key": key.to_string(),
        "description": spec.description,
        "feature_version": plan.feature_version,
        "id_columns": list(spec.id_columns),
        "columns": list(cls.model_fields) if cls is not None else [],
        "fields": [
            {
                "key": f.key.to_string(),
                "code_version": code_versions[f.key],
                "version": plan.field_versions[f.key],
                "parents": [p.label for p in f.parents],
            }
            for f in plan.fields
        ],
        "deps": [
            {
                "feature": d.feature.to_string(),
                "lineage": d.lineage.kind.value,
                "optional": d.optional,
                "columns": None if d.columns is None else list(d.columns),
            }
            for d in spec.deps
        ],
        "upstream": [k.to_string() for k in graph.upstream_of(key)],
        "downstream": [k.to_string() for k in graph.downstream_of(key)],
    }


def neighbourhood(graph: FeatureGraph, key: Any | None) -> list[FeatureKey]:
    """All keys (``key=None``) or ``key`` with its transitive upstream and downstream, topologically."""
    if key is None:
        return graph.topological_order()
    key = coerce_feature_key(key)
    wanted = {key, *graph.upstream_of(key), *graph.downstream_of(key)}
    return [k for k in graph.topological_order() if k in wanted]


def describe_graph(graph: FeatureGraph, key: Any | None = None) -> dict[str, Any]:
    """Nodes (features with field versions) and edges (feature-level and field-level) as plain data."""
    keys = neighbourhood(graph, key)
    nodes = [
        {
            "key": k.to_string(),
            "feature_version": graph.feature_version(k),
            "fields": graph.field_versions(k),
        }
        for k in keys
    ]
    edges, field_edges = [], []
    for k in keys:
        for dep in graph.spec(k).deps:
            edges.append({"from": dep.feature.to_string(), "to": k.to_string()})
        for f in graph.plan(k).fields:
            for p in f.parents:
                field_edges.append({"from": p.label, "to": f"{k.to_string()}.{f.key.to_string()}"})
    return {"nodes": nodes, "edges": edges, "field_edges": field_edges}
