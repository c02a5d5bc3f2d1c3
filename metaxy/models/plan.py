"""Resolved plans: each field's exact upstream fields, and the static (definition-level) versions.

Static versions follow Metaxy 0.1.x byte for byte (always SHA-256, lowercase hex, prefix-truncated):

- field version = sha256("<feature>.<field>" + code_version + parent field versions, parents sorted by
  "<upstream feature>.<upstream field>");
- feature version = sha256(field key + field version, for each field in field-key order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from metaxy.constants import STATIC_VERSION_LENGTH
from metaxy.exceptions import UnknownFeatureError, UnknownFieldError
from metaxy.models.fields import ALL, FieldSpec
from metaxy.models.keys import FeatureKey, FieldKey
from metaxy.models.spec import FeatureDep, FeatureSpec


@dataclass(frozen=True)
class ParentField:
    """One upstream field a field depends on."""

    feature: FeatureKey
    field: FieldKey

    @property
    def label(self) -> str:
        """``"<feature key>.<field key>"``: the sort key and the text hashed for this parent."""
        return f"{self.feature.to_string()}.{self.field.to_string()}"


@dataclass(frozen=True)
class FieldPlan:
    """A field with its parents resolved and sorted as the hash recipes need them."""

    key: FieldKey
    code_version: str
    parents: tuple[ParentField, ...]


@dataclass(frozen=True)
class FeaturePlan:
    """Everything needed to version one feature: its spec, its deps' specs and its resolved fields."""

    spec: FeatureSpec
    upstream: Mapping[FeatureKey, FeatureSpec]
    fields: tuple[FieldPlan, ...]
    field_versions: Mapping[FieldKey, str] = field(default_factory=dict)
    feature_version: str = ""

    @property
    def key(self) -> FeatureKey:
        return self.spec.key

    @property
    def is_root(self) -> bool:
        return not self.spec.deps

    def parents_from(self, upstream: FeatureKey) -> list[FieldKey]:
        """Upstream fields of ``upstream`` that any field of this feature reads, in field-key order."""
        found = {p.field for f in self.fields for p in f.parents if p.feature == upstream}
        return sorted(found, key=lambda k: k.to_string())


def sha256_hex(text: str, length: int = STATIC_VERSION_LENGTH) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def build_plan(
    spec: FeatureSpec,
    upstream: Mapping[FeatureKey, FeatureSpec],
    upstream_field_versions: Mapping[FeatureKey, Mapping[FieldKey, str]],
) -> FeaturePlan:
    """Resolve ``spec``'s field parents against its upstream specs and compute its static versions."""
    fields = tuple(
        FieldPlan(f.key, f.code_version, _resolve_parents(spec, f, upstream))
        for f in sorted(spec.fields, key=lambda f: f.key.to_string())
    )
    versions: dict[FieldKey, str] = {}
    for f in fields:
        text = f"{spec.key.to_string()}.{f.key.to_string()}{f.code_version}"
        text += "".join(upstream_field_versions[p.feature][p.field] for p in f.parents)
        versions[f.key] = sha256_hex(text)
    feature_version = sha256_hex("".join(f.key.to_string() + versions[f.key] for f in fields))
    return FeaturePlan(spec, dict(upstream), fields, versions, feature_version)


def _resolve_parents(
    spec: FeatureSpec, field: FieldSpec, upstream: Mapping[FeatureKey, FeatureSpec]
) -> tuple[ParentField, ...]:
    parents: set[ParentField] = set()
    if field.deps is None:
        for dep in spec.deps:
            up_fields = upstream[dep.feature].field_keys
            for up in dep.fields_mapping.upstream_fields(field.key, up_fields):
                _check_field(spec, field, dep, upstream[dep.feature], up)
                parents.add(ParentField(dep.feature, up))
    else:
        declared = {d.feature for d in spec.deps}
        for field_dep in field.deps:
            if field_dep.feature not in declared:
                raise UnknownFeatureError(
                    f"Field {field.key.to_string()!r} of feature {spec.key.to_string()!r} depends on "
                    f"{field_dep.feature.to_string()!r}, which is not among the feature's deps.",
                    hint=f"Add FeatureDep(feature={field_dep.feature.to_string()!r}) to the spec's deps.",
                )
            up_spec = upstream[field_dep.feature]
            ups = up_spec.field_keys if field_dep.fields == ALL else field_dep.fields
            for up in ups:
                _check_field(spec, field, spec.dep(field_dep.feature), up_spec, up)
                parents.add(ParentField(field_dep.feature, up))
    return tuple(sorted(parents, key=lambda p: p.label))


def _check_field(
    spec: FeatureSpec, field: FieldSpec, dep: FeatureDep, up_spec: FeatureSpec, up: FieldKey
) -> None:
    if up not in up_spec.field_keys:
        known = ", ".join(k.to_string() for k in up_spec.field_keys)
        raise UnknownFieldError(
            f"Field {field.key.to_string()!r} of feature {spec.key.to_string()!r} depends on field "
            f"{up.to_string()!r} of {dep.feature.to_string()!r}, which has no such field.",
            hint=f"{dep.feature.to_string()!r} has fields: {known}.",
        )
