"""What every engine derives from a plan's lineage: the keys a sample is versioned by, whether the
feature expands its upstream, the flat parent-field columns, and the carried-column rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from metaxy.constants import FEATURE_VERSION, PROVENANCE
from metaxy.exceptions import VersioningError
from metaxy.models.fields import LineageKind
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan, ParentField
from metaxy.models.spec import FeatureDep


def versioning_keys(plan: FeaturePlan) -> list[str]:
    """Columns identifying one versioned sample: the id columns, or the parent ids under expansion."""
    for dep in plan.spec.deps:
        if dep.lineage.kind is LineageKind.EXPANSION:
            return list(dep.lineage.on)
    return list(plan.spec.id_columns)


def join_columns(dep: FeatureDep, keys: list[str]) -> list[str]:
    """The sample columns ``dep``'s upstream rows are matched on: the lineage's ``on``, a foreign
    key's mapped columns, or the feature's versioning ``keys``."""
    if dep.is_foreign_key:
        return list(dep.on_map)
    return list(dep.lineage.on) if dep.lineage.kind is not LineageKind.IDENTITY else keys


def expands(plan: FeaturePlan) -> bool:
    """Whether ``plan`` expands an upstream: its stored samples are compared per parent key, not by id."""
    return versioning_keys(plan) != list(plan.spec.id_columns)


def comparison_columns(plan: FeaturePlan) -> list[str]:
    """The columns of stored rows that deciding new, stale and orphaned needs."""
    return list(dict.fromkeys([*plan.spec.id_columns, *versioning_keys(plan), PROVENANCE, FEATURE_VERSION]))


def parent_column(dep_index: int, parent: ParentField) -> str:
    """Name of the flat column holding one upstream field's data version after the join."""
    return f"__mx_up{dep_index}__{parent.field.to_struct_name()}"


def check_carried_columns(plan: FeaturePlan, carried: Sequence[tuple[FeatureKey, Iterable[str]]]) -> None:
    """Refuse a user column carried from two upstream features (every engine applies this rule)."""
    owner: dict[str, FeatureKey] = {}
    for feature, columns in carried:
        for column in columns:
            if column in owner:
                raise VersioningError(
                    f"Feature {plan.key.to_string()!r}: column {column!r} comes from both "
                    f"{owner[column].to_string()!r} and {feature.to_string()!r}.",
                    hint="Pick one with FeatureDep(columns=[...]) or rename one with FeatureDep(rename={...}).",
                )
            owner[column] = feature
