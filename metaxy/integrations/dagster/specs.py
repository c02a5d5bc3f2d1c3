"""Features as Dagster asset specs: key, upstream deps, code version, description, column schema,
column lineage (field-level deps) and kinds."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from metaxy.models.feature import Feature, FeatureLike
from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey

#: metadata keys written on every feature asset
FEATURE_KEY = "metaxy/feature_key"
FEATURE_VERSION_KEY = "metaxy/feature_version"
FIELDS_KEY = "metaxy/fields"
ID_COLUMNS_KEY = "metaxy/id_columns"


def feature_key_of(feature: FeatureLike) -> FeatureKey:
    """The metaxy key of ``feature`` (a class, a key or its string form)."""
    key = getattr(feature, "key", None)
    if isinstance(feature, type) and issubclass(feature, Feature) and callable(key):
        return feature.key()
    return coerce_feature_key(feature)


def asset_key(feature: FeatureLike, *, prefix: Sequence[str] = ()) -> dg.AssetKey:
    """The Dagster asset key of a feature: its key parts (``video/raw`` → ``["video", "raw"]``)."""
    return dg.AssetKey([*prefix, *feature_key_of(feature).parts])


def feature_asset_spec(
    feature: FeatureLike,
    *,
    graph: FeatureGraph | None = None,
    prefix: Sequence[str] = (),
    kinds: Iterable[str] = (),
    group_name: str | None = None,
    partitions_def: dg.PartitionsDefinition[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dg.AssetSpec:
    """The asset spec of one feature.

    ``code_version`` is the feature version, so Dagster marks the asset stale exactly when metaxy's
    definition changes; ``deps`` are the feature's upstream features; the metadata carries the column
    schema, the column lineage of each field (the upstream fields it reads) and of the carried
    upstream columns, and the feature's key, version, fields and id columns. ``kinds`` adds to
    ``{"metaxy"}`` (Dagster shows at most three).
    """
    graph = graph or _graph_of(feature)
    key = feature_key_of(feature)
    spec = graph.spec(key)
    return dg.AssetSpec(
        key=asset_key(key, prefix=prefix),
        deps=[asset_key(dep.feature, prefix=prefix) for dep in spec.deps],
        description=spec.description,
        code_version=graph.feature_version(key),
        kinds={"metaxy", *kinds},
        group_name=group_name,
        partitions_def=partitions_def,
        metadata={**feature_metadata(key, graph, prefix=prefix), **(metadata or {})},
    )


def feature_asset_specs(
    graph: FeatureGraph | None = None,
    *,
    features: Iterable[FeatureLike] | None = None,
    prefix: Sequence[str] = (),
    kinds: Iterable[str] = (),
    group_name: str | None = None,
) -> list[dg.AssetSpec]:
    """Asset specs of a whole graph (default: the active one), upstream first.

    ``features`` restricts them to some features (their upstream stays a dependency, not a spec).
    """
    graph = graph or FeatureGraph.get_active()
    chosen = None if features is None else {feature_key_of(f) for f in features}
    keys = [k for k in graph.topological_order(chosen) if chosen is None or k in chosen]
    return [
        feature_asset_spec(k, graph=graph, prefix=prefix, kinds=kinds, group_name=group_name) for k in keys
    ]


def feature_metadata(key: FeatureKey, graph: FeatureGraph, *, prefix: Sequence[str] = ()) -> dict[str, Any]:
    """Definition metadata of a feature asset (schema, lineage, key, version, fields, ids)."""
    spec = graph.spec(key)
    plan = graph.plan(key)
    fields = {f.key.to_string(): f.code_version for f in plan.fields}
    return {
        "dagster/column_schema": column_schema(key, graph),
        "dagster/column_lineage": column_lineage(key, graph, prefix=prefix),
        FEATURE_KEY: key.to_string(),
        FEATURE_VERSION_KEY: graph.feature_version(key),
        FIELDS_KEY: dg.MetadataValue.json(fields),
        ID_COLUMNS_KEY: json.dumps(list(spec.id_columns)),
    }


def column_schema(key: FeatureKey, graph: FeatureGraph) -> dg.TableSchema:
    """Id columns, then the feature class's declared columns with their Python types."""
    spec = graph.spec(key)
    columns = [dg.TableColumn(name, "id", description="sample id") for name in spec.id_columns]
    cls = graph.feature_class(key)
    for name, info in cls.model_fields.items() if cls is not None else ():
        if name not in spec.id_columns:
            columns.append(dg.TableColumn(name, _type_name(info.annotation), description=info.description))
    return dg.TableSchema(columns=columns)


def column_lineage(
    key: FeatureKey, graph: FeatureGraph, *, prefix: Sequence[str] = ()
) -> dg.TableColumnLineage:
    """Each field ← the upstream fields it reads; each carried upstream column ← its source column."""
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for field in graph.plan(key).fields:
        deps[field.key.to_string()] = [
            dg.TableColumnDep(asset_key=asset_key(p.feature, prefix=prefix), column_name=p.field.to_string())
            for p in field.parents
        ]
    for dep in graph.spec(key).deps:
        renames = dep.rename_map
        for column in dep.columns or ():
            deps.setdefault(renames.get(column, column), []).append(
                dg.TableColumnDep(asset_key=asset_key(dep.feature, prefix=prefix), column_name=column)
            )
    return dg.TableColumnLineage(deps_by_column={c: d for c, d in deps.items() if d})


def _graph_of(feature: FeatureLike) -> FeatureGraph:
    if isinstance(feature, type) and issubclass(feature, Feature):
        return feature.graph()
    return FeatureGraph.get_active()


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)
