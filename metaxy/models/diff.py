"""Impact analysis between two graph versions: what changed, and which fields will get stale samples.

Field-level: a field is stale when its static field version changes. Its *reason* says whether its
own definition changed (``code``, ``deps``, ``added``, ``removed``) or only something upstream did
(``upstream``), so an ``audio`` change never lists features that read ``frames`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey, FieldKey
from metaxy.models.plan import FeaturePlan, FieldPlan

#: reasons meaning the feature's own definition changed (anything else is inherited from upstream)
OWN_REASONS = frozenset({"code", "deps", "added", "removed"})


@dataclass(frozen=True)
class FieldChange:
    """One field whose static version differs between the graphs, and why."""

    field: FieldKey
    reason: str  # code | deps | added | removed | upstream
    old_code_version: str | None
    new_code_version: str | None
    old_version: str | None
    new_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field.to_string(),
            "reason": self.reason,
            "old_code_version": self.old_code_version,
            "new_code_version": self.new_code_version,
            "old_version": self.old_version,
            "new_version": self.new_version,
        }


@dataclass(frozen=True)
class FeatureChange:
    """A feature present in both graphs whose feature version changed."""

    feature: FeatureKey
    old_version: str
    new_version: str
    fields: tuple[FieldChange, ...]
    id_columns: tuple[str, ...] = ()

    @property
    def is_direct(self) -> bool:
        """Its own definition changed (not only something upstream)."""
        return any(f.reason in OWN_REASONS for f in self.fields)

    @property
    def stale_fields(self) -> list[FieldKey]:
        """Fields whose existing samples become stale (removed fields have no future samples)."""
        return [f.field for f in self.fields if f.reason != "removed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "old_version": self.old_version,
            "new_version": self.new_version,
            "direct": self.is_direct,
            "fields": [f.to_dict() for f in self.fields],
        }


@dataclass(frozen=True)
class GraphDiff:
    """What separates two graph versions (see :func:`diff_graphs`)."""

    old_project_version: str
    new_project_version: str
    added: tuple[FeatureKey, ...] = ()
    removed: tuple[FeatureKey, ...] = ()
    changed: tuple[FeatureChange, ...] = field(default=())

    @property
    def direct(self) -> list[FeatureChange]:
        """Features whose own definition changed."""
        return [c for c in self.changed if c.is_direct]

    @property
    def impacted(self) -> list[FeatureChange]:
        """Features that only inherit staleness from upstream changes (the downstream impact)."""
        return [c for c in self.changed if not c.is_direct]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (keys as strings)."""
        return {
            "old_project_version": self.old_project_version,
            "new_project_version": self.new_project_version,
            "added": [k.to_string() for k in self.added],
            "removed": [k.to_string() for k in self.removed],
            "changed": [c.to_dict() for c in self.direct],
            "impacted": [c.to_dict() for c in self.impacted],
        }


def diff_graphs(old: FeatureGraph | dict[str, Any], new: FeatureGraph | dict[str, Any]) -> GraphDiff:
    """Compare two graphs (or their snapshots) feature by feature and field by field.

    Example:
        >>> import metaxy as mx
        >>> diff_graphs(mx.FeatureGraph(), mx.FeatureGraph()).is_empty
        True
    """
    old_graph, new_graph = _as_graph(old), _as_graph(new)
    old_keys, new_keys = set(old_graph.keys), set(new_graph.keys)
    changed = []
    for key in new_graph.topological_order():
        if key not in old_keys:
            continue
        before, after = old_graph.plan(key), new_graph.plan(key)
        if before.feature_version != after.feature_version:
            fields = tuple(_field_changes(before, after))
            changed.append(
                FeatureChange(
                    key, before.feature_version, after.feature_version, fields, tuple(after.spec.id_columns)
                )
            )
    return GraphDiff(
        old_project_version=old_graph.project_version(),
        new_project_version=new_graph.project_version(),
        added=tuple(sorted(new_keys - old_keys)),
        removed=tuple(sorted(old_keys - new_keys)),
        changed=tuple(changed),
    )


def _as_graph(value: FeatureGraph | dict[str, Any]) -> FeatureGraph:
    return value if isinstance(value, FeatureGraph) else FeatureGraph.from_snapshot(value)


def _field_changes(before: FeaturePlan, after: FeaturePlan) -> list[FieldChange]:
    old = {f.key: f for f in before.fields}
    new = {f.key: f for f in after.fields}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        old_version, new_version = before.field_versions.get(key), after.field_versions.get(key)
        if old_version == new_version:
            continue
        o, n = old.get(key), new.get(key)
        changes.append(
            FieldChange(
                field=key,
                reason=_reason(o, n),
                old_code_version=o.code_version if o else None,
                new_code_version=n.code_version if n else None,
                old_version=old_version,
                new_version=new_version,
            )
        )
    return changes


def _reason(old: FieldPlan | None, new: FieldPlan | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    if old.code_version != new.code_version:
        return "code"
    if old.parents != new.parents:
        return "deps"
    return "upstream"
