"""``FeatureDep`` and ``FeatureSpec``: what a feature is made of and what it reads."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import polars as pl
from pydantic import ConfigDict, Field, field_serializer, field_validator, model_validator

from metaxy.constants import DEFAULT_ID_COLUMNS, SYSTEM_COLUMNS
from metaxy.exceptions import DefinitionError, DuplicateFieldError
from metaxy.models._validated import DefinitionModel
from metaxy.models.fields import (
    FieldsMapping,
    FieldSpec,
    LineageKind,
    LineageRelationship,
    coerce_feature_key,
)
from metaxy.models.keys import FeatureKey, FieldKey


class FeatureDep(DefinitionModel):
    """Dependency of a feature on one upstream feature.

    Args:
        feature: the upstream feature class or key.
        columns: upstream user columns to carry into the joined upstream frame (``None``: all).
        rename: renames applied to the carried columns.
        fields_mapping: how this feature's fields map onto the upstream fields.
        filters: Polars expressions restricting the upstream rows that count.
        lineage: identity (1:1, default), aggregation (N:1) or expansion (1:N).
        optional: a sample may exist without this upstream (left join; its inputs hash as ``""``).
        on: a foreign-key dependency: ``{column: upstream id column}`` maps columns the feature's
            other upstreams carry (``columns=``) or its own id columns onto this upstream's id
            columns, e.g. ``FeatureDep(feature=Speaker, on={"speaker_id": "speaker_id"})``; each
            sample reads the upstream row its columns point at (docs/lineage.md#foreign-keys).
    """

    argument_hints: ClassVar[dict[str, str]] = {
        "filters": 'Polars expressions, e.g. filters=[pl.col("duration") > 1]',
        "columns": 'a list of upstream column names, e.g. columns=["path"]',
        "rename": 'a mapping of old to new column names, e.g. rename={"path": "video_path"}',
        "on": 'a mapping of this feature\'s columns to the upstream\'s id columns, e.g. on={"speaker_id": "id"}',
    }
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    feature: FeatureKey
    columns: tuple[str, ...] | None = None
    rename: tuple[tuple[str, str], ...] = ()
    fields_mapping: FieldsMapping = Field(default_factory=FieldsMapping.default)
    filters: tuple[pl.Expr, ...] = ()
    lineage: LineageRelationship = Field(default_factory=LineageRelationship.identity)
    optional: bool = False
    on: tuple[tuple[str, str], ...] = ()

    def __init__(self, feature: Any = None, **kwargs: Any) -> None:
        if "select" in kwargs:  # Metaxy 0.1.x spelling
            kwargs["columns"] = kwargs.pop("select")
        super().__init__(feature=feature, **kwargs)

    @field_validator("feature", mode="before")
    @classmethod
    def _feature(cls, value: Any) -> FeatureKey:
        return coerce_feature_key(value)

    @field_validator("rename", "on", mode="before")
    @classmethod
    def _rename(cls, value: Any) -> Any:
        return tuple(value.items()) if isinstance(value, Mapping) else value

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> tuple[pl.Expr, ...]:
        if value is None:
            return ()
        if isinstance(value, pl.Expr | str | bytes):
            value = [value]
        return tuple(_as_expr(v) for v in value)

    @field_serializer("filters")
    def _dump_filters(self, filters: tuple[pl.Expr, ...]) -> list[str]:
        return [base64.b64encode(f.meta.serialize()).decode() for f in filters]

    @property
    def rename_map(self) -> dict[str, str]:
        return dict(self.rename)

    @property
    def on_map(self) -> dict[str, str]:
        """``{column of this feature's samples: upstream id column}`` of a foreign-key dependency."""
        return dict(self.on)

    @property
    def is_foreign_key(self) -> bool:
        """Whether the upstream row is found through mapped columns (``on=``), not the sample's ids."""
        return bool(self.on)


def _as_dep(value: Any) -> FeatureDep:
    if isinstance(value, FeatureDep):
        return value
    if isinstance(value, Mapping):  # a snapshot's serialized dependency
        return FeatureDep.model_validate(value)
    return FeatureDep(feature=value)


def _as_expr(value: Any) -> pl.Expr:
    if isinstance(value, pl.Expr):
        return value
    if isinstance(value, str):  # a snapshot's serialized expression, or a SQL condition by mistake
        try:
            return pl.Expr.deserialize(io.BytesIO(base64.b64decode(value, validate=True)))
        except (ValueError, pl.exceptions.PolarsError):
            raise DefinitionError(
                f"Invalid dependency filter {value!r}: a string is not a Polars expression.",
                hint=f"Write filters as Polars expressions, e.g. filters=[pl.col(...) > 1], "
                f"or parse SQL with filters=[pl.sql_expr({value!r})].",
            ) from None
    raise DefinitionError(
        f"Invalid dependency filter {value!r}: expected a Polars expression.",
        hint='Write filters as Polars expressions, e.g. filters=[pl.col("duration") > 1].',
    )


class FeatureSpec(DefinitionModel):
    """Everything metaxy needs to know about a feature, independent of its Python class.

    Args:
        key: the feature key, e.g. ``"video/raw"``.
        id_columns: columns identifying one sample (default ``["sample_uid"]``).
        fields: the feature's fields (default: one field ``"default"``).
        deps: upstream features, as ``FeatureDep`` or bare feature classes/keys.
        metadata: free-form JSON-able annotations.
        description: a human description (searched by ``metaxy search``).
    """

    argument_hints: ClassVar[dict[str, str]] = {
        "id_columns": 'a list of column names, e.g. id_columns=["sample_uid"]',
        "fields": 'a list of FieldSpec, e.g. fields=[mx.FieldSpec(key="audio", code_version="1")]',
        "deps": "a list of FeatureDep or feature classes",
    }
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    key: FeatureKey
    id_columns: tuple[str, ...] = DEFAULT_ID_COLUMNS
    fields: tuple[FieldSpec, ...] = (FieldSpec(),)
    deps: tuple[FeatureDep, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> FeatureKey:
        return FeatureKey.coerce(value)

    @field_validator("deps", mode="before")
    @classmethod
    def _deps(cls, value: Any) -> tuple[FeatureDep, ...]:
        if value is None:
            return ()
        return tuple(_as_dep(d) for d in value)

    @field_validator("id_columns", mode="before")
    @classmethod
    def _id_columns(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        where = f"feature {self.key.to_string()!r}"
        if not self.id_columns:
            raise DefinitionError(f"{where} has no id columns.", hint='Pass id_columns=["sample_uid"].')
        bad = [c for c in self.id_columns if c in SYSTEM_COLUMNS]
        if bad:
            raise DefinitionError(
                f"{where} uses the system column {bad[0]!r} as an id column.",
                hint="Choose another name; 'metaxy_*' columns are reserved.",
            )
        if not self.fields:
            raise DefinitionError(
                f"{where} declares no fields.", hint="Omit fields= to get one 'default' field."
            )
        if len(set(self.id_columns)) != len(self.id_columns):
            twice = sorted({c for c in self.id_columns if self.id_columns.count(c) > 1})
            raise DefinitionError(
                f"{where} lists the id column(s) {twice} more than once: {list(self.id_columns)}.",
                hint="Name each id column once.",
            )
        _check_unique([f.key for f in self.fields], where, "field")
        _check_struct_names(self.fields, where)
        _check_unique([d.feature for d in self.deps], where, "dependency")
        for dep in self.deps:
            _check_lineage(self, dep)
        foreign_key_order(self)
        return self

    def field(self, key: str | FieldKey) -> FieldSpec:
        wanted = FieldKey.coerce(key)
        for field in self.fields:
            if field.key == wanted:
                return field
        raise KeyError(wanted.to_string())

    @property
    def field_keys(self) -> list[FieldKey]:
        return [f.key for f in self.fields]

    def dep(self, key: FeatureKey) -> FeatureDep:
        return next(d for d in self.deps if d.feature == key)


def _check_unique(keys: Sequence[FeatureKey | FieldKey], where: str, what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        name = key.to_string()
        if name in seen:
            error = DuplicateFieldError if what == "field" else DefinitionError
            raise error(
                f"{where} declares the {what} {name!r} twice.",
                hint=f"Each {what} may appear once; merge the two declarations.",
            )
        seen.add(name)


def _check_struct_names(fields: Sequence[FieldSpec], where: str) -> None:
    """Two field keys may not share a ``*_by_field`` struct field name (``a/b`` and ``a_b`` both give ``a_b``)."""
    seen: dict[str, str] = {}
    for field in fields:
        name = field.key.to_struct_name()
        if name in seen:
            raise DuplicateFieldError(
                f"{where}: fields {seen[name]!r} and {field.key.to_string()!r} would both be stored as "
                f"{name!r} in the metaxy_*_by_field columns.",
                hint="Rename one of the two fields.",
            )
        seen[name] = field.key.to_string()


def _check_lineage(spec: FeatureSpec, dep: FeatureDep) -> None:
    lineage = dep.lineage
    if lineage.kind is LineageKind.IDENTITY:
        return
    where = f"feature {spec.key.to_string()!r}, dependency on {dep.feature.to_string()!r}"
    if not lineage.on:
        raise DefinitionError(
            f"{where}: {lineage.kind.value} lineage needs on=[...].", hint="Name the grouping columns."
        )
    if lineage.kind is LineageKind.AGGREGATION and set(lineage.on) != set(spec.id_columns):
        raise DefinitionError(
            f"{where}: aggregation on={list(lineage.on)} must equal this feature's id columns {list(spec.id_columns)}.",
            hint="Aggregation groups upstream rows into one sample of this feature per 'on' key.",
        )
    if lineage.kind is LineageKind.EXPANSION and not set(lineage.on) < set(spec.id_columns):
        raise DefinitionError(
            f"{where}: expansion on={list(lineage.on)} must be a strict subset of the id columns {list(spec.id_columns)}.",
            hint="Expansion makes many samples (more id columns) from one upstream sample (the 'on' columns).",
        )


def foreign_key_order(spec: FeatureSpec) -> list[FeatureDep]:
    """``spec``'s foreign-key dependencies in an order where each one's columns are already known:
    the feature's id columns, the columns its other dependencies carry, or those of one before it.

    Raises:
        DefinitionError: a foreign key with another lineage, a feature with only foreign keys, a
            column no dependency carries, or foreign keys that need each other's columns (a cycle).
    """
    where = f"feature {spec.key.to_string()!r}"
    keyed = [d for d in spec.deps if d.is_foreign_key]
    if not keyed:
        return []
    plain = [d for d in spec.deps if not d.is_foreign_key]
    if not plain:
        raise DefinitionError(
            f"{where}: every dependency is a foreign key (on=...), so nothing gives the feature its samples.",
            hint="Add the dependency whose rows are the feature's samples (e.g. the utterances), without on=.",
        )
    for dep in keyed:
        if dep.lineage.kind is not LineageKind.IDENTITY:
            raise DefinitionError(
                f"{where}, dependency on {dep.feature.to_string()!r}: on= cannot be combined with "
                f"{dep.lineage.kind.value} lineage.",
                hint="A foreign key reads one upstream row per sample; drop lineage= or on=.",
            )
    known, anything = set(spec.id_columns), False
    for dep in plain:
        anything = anything or dep.columns is None
        known |= _carried(dep)
    ordered: list[FeatureDep] = []
    todo = list(keyed)
    while todo:
        ready = [d for d in todo if anything or set(d.on_map) <= known]
        if not ready:
            _refuse_unresolved(where, todo, known)
        for dep in ready:
            ordered.append(dep)
            todo.remove(dep)
            anything = anything or dep.columns is None
            known |= _carried(dep) | set(dep.on_map)
    return ordered


def _carried(dep: FeatureDep) -> set[str]:
    rename = dep.rename_map
    return {rename.get(c, c) for c in dep.columns or ()}


def _refuse_unresolved(where: str, todo: list[FeatureDep], known: set[str]) -> None:
    provided = {c: d for d in todo for c in _carried(d)}
    for dep in todo:
        unknown = sorted(set(dep.on_map) - known)
        if all(c in provided for c in unknown):
            continue
        missing = [c for c in unknown if c not in provided]
        raise DefinitionError(
            f"{where}, dependency on {dep.feature.to_string()!r}: on= names column(s) {missing} that neither "
            f"the feature's id columns nor any dependency's columns= provide (known: {sorted(known)}).",
            hint='Carry the column from the upstream that holds it, e.g. FeatureDep(feature=Utterance, columns=["speaker_id"]).',
        )
    names = " -> ".join(d.feature.to_string() for d in todo)
    raise DefinitionError(
        f"{where}: the foreign keys of {names} need each other's columns (a cycle through on=).",
        hint="Carry the key columns from a dependency without on=.",
    )
