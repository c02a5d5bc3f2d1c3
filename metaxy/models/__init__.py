"""Definitions: keys, fields, specs, the ``Feature`` base class and the ``FeatureGraph``."""

from metaxy.models.feature import BaseFeature, Feature
from metaxy.models.fields import (
    ALL,
    FieldDep,
    FieldsMapping,
    FieldSpec,
    LineageKind,
    LineageRelationship,
    SpecialFieldDep,
)
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey, FieldKey
from metaxy.models.plan import FeaturePlan, FieldPlan, ParentField
from metaxy.models.spec import FeatureDep, FeatureSpec

__all__ = [
    "ALL",
    "BaseFeature",
    "Feature",
    "FeatureDep",
    "FeatureGraph",
    "FeatureKey",
    "FeaturePlan",
    "FeatureSpec",
    "FieldDep",
    "FieldKey",
    "FieldPlan",
    "FieldSpec",
    "FieldsMapping",
    "LineageKind",
    "LineageRelationship",
    "ParentField",
    "SpecialFieldDep",
]
