"""Fields of a feature and how they depend on upstream fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import ConfigDict, field_validator

from metaxy.constants import DEFAULT_CODE_VERSION, DEFAULT_FIELD_KEY
from metaxy.models._validated import DefinitionModel
from metaxy.models.keys import FeatureKey, FieldKey


class SpecialFieldDep(StrEnum):
    """Placeholder meaning "every field of the upstream feature"."""

    ALL = "__all__"


ALL = SpecialFieldDep.ALL


def coerce_feature_key(value: Any) -> FeatureKey:
    """Accept a key, its string/list form, or a feature class (anything with ``spec()``)."""
    spec = getattr(value, "spec", None)
    if callable(spec):
        return FeatureKey.coerce(spec().key)
    return FeatureKey.coerce(value)


class FieldDep(DefinitionModel):
    """Dependency of one field on some fields (or ``ALL``) of one upstream feature."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    feature: FeatureKey
    fields: tuple[FieldKey, ...] | SpecialFieldDep = ALL

    def __init__(self, feature: Any, fields: Any = ALL, **kwargs: Any) -> None:
        super().__init__(feature=feature, fields=fields, **kwargs)

    @field_validator("feature", mode="before")
    @classmethod
    def _feature(cls, value: Any) -> FeatureKey:
        return coerce_feature_key(value)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, value: Any) -> tuple[FieldKey, ...] | SpecialFieldDep:
        if value == ALL or value == ALL.value:
            return ALL
        if isinstance(value, str | FieldKey):
            value = [value]
        return tuple(FieldKey.coerce(v) for v in value)


class FieldSpec(DefinitionModel):
    """A logical part of a feature with its own code version and dependencies.

    ``deps=None`` applies each upstream dependency's ``fields_mapping`` (by default: the upstream
    field with the same key, or all upstream fields when there is none).
    """

    argument_hints: ClassVar[dict[str, str]] = {
        "code_version": 'a string (or an int), e.g. code_version="2"',
        "key": 'a field key, e.g. key="audio"',
        "deps": "a list of FieldDep, or None for the default mapping",
    }
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    key: FieldKey = FieldKey(DEFAULT_FIELD_KEY)
    code_version: str = DEFAULT_CODE_VERSION
    deps: tuple[FieldDep, ...] | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> FieldKey:
        return FieldKey.coerce(value)

    @field_validator("code_version", mode="before")
    @classmethod
    def _code_version(cls, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value  # type: ignore[no-any-return]


class FieldsMappingKind(StrEnum):
    DEFAULT = "default"
    SPECIFIC = "specific"
    ALL = "all"
    NONE = "none"


class FieldsMapping(DefinitionModel):
    """How the fields of a feature map onto the fields of one upstream dependency.

    - ``default()``: the upstream field with the same key, else all upstream fields (Metaxy 0.1.x rule);
    - ``specific({field: [upstream fields]})``: explicit lists; unlisted fields use the default rule;
    - ``all()``: every field depends on every upstream field;
    - ``none()``: no field depends on this upstream (it only contributes columns/rows).
    """

    model_config = ConfigDict(frozen=True)

    kind: FieldsMappingKind = FieldsMappingKind.DEFAULT
    mapping: tuple[tuple[FieldKey, tuple[FieldKey, ...]], ...] = ()

    @classmethod
    def default(cls) -> FieldsMapping:
        return cls()

    @classmethod
    def specific(cls, mapping: Mapping[Any, Sequence[Any] | Any]) -> FieldsMapping:
        items = []
        for field, upstream in mapping.items():
            ups = [upstream] if isinstance(upstream, str | FieldKey) else list(upstream)
            items.append((FieldKey.coerce(field), tuple(FieldKey.coerce(u) for u in ups)))
        return cls(kind=FieldsMappingKind.SPECIFIC, mapping=tuple(items))

    @classmethod
    def all(cls) -> FieldsMapping:
        return cls(kind=FieldsMappingKind.ALL)

    @classmethod
    def none(cls) -> FieldsMapping:
        return cls(kind=FieldsMappingKind.NONE)

    def upstream_fields(self, field: FieldKey, upstream: Sequence[FieldKey]) -> list[FieldKey]:
        """The upstream fields ``field`` depends on under this mapping."""
        if self.kind is FieldsMappingKind.NONE:
            return []
        if self.kind is FieldsMappingKind.ALL:
            return list(upstream)
        if self.kind is FieldsMappingKind.SPECIFIC:
            for mapped, ups in self.mapping:
                if mapped == field:
                    return list(ups)
        return [field] if field in upstream else list(upstream)


class LineageKind(StrEnum):
    IDENTITY = "identity"
    AGGREGATION = "aggregation"
    EXPANSION = "expansion"


class LineageRelationship(DefinitionModel):
    """Cardinality between an upstream feature's samples and this feature's samples.

    - ``identity()``: 1:1, joined on the shared id columns;
    - ``aggregation(on=[...])``: N:1, upstream rows grouped by ``on`` (this feature's ids);
    - ``expansion(on=[...])``: 1:N, each upstream sample (ids ``on``) yields many samples here.
    """

    model_config = ConfigDict(frozen=True)

    kind: LineageKind = LineageKind.IDENTITY
    on: tuple[str, ...] = ()

    @classmethod
    def identity(cls) -> LineageRelationship:
        return cls()

    @classmethod
    def aggregation(cls, on: Sequence[str]) -> LineageRelationship:
        return cls(kind=LineageKind.AGGREGATION, on=tuple(on))

    @classmethod
    def expansion(cls, on: Sequence[str]) -> LineageRelationship:
        return cls(kind=LineageKind.EXPANSION, on=tuple(on))
