"""metaxy: feature-metadata versioning for ML and multimodal pipelines.

Declare features as classes, let metaxy compute per-sample versions, and ask any store
``resolve_update(Feature)`` for the samples that must be (re)computed.
"""

from __future__ import annotations

from typing import Any

from metaxy.exceptions import MetaxyError
from metaxy.models import (
    ALL,
    BaseFeature,
    Feature,
    FeatureDep,
    FeatureGraph,
    FeatureKey,
    FeatureSpec,
    FieldDep,
    FieldKey,
    FieldsMapping,
    FieldSpec,
    LineageRelationship,
)
from metaxy.stores import LAZY_STORES, InMemoryMetadataStore, MetadataStore
from metaxy.versioning import HashAlgorithm, Increment

__version__ = "0.2.0"

__all__ = [
    "ALL",
    "BaseFeature",
    "ClickHouseMetadataStore",
    "DuckDBMetadataStore",
    "Feature",
    "FeatureDep",
    "FeatureGraph",
    "FeatureKey",
    "FeatureSpec",
    "FieldDep",
    "FieldKey",
    "FieldSpec",
    "FieldsMapping",
    "HashAlgorithm",
    "InMemoryMetadataStore",
    "Increment",
    "LineageRelationship",
    "MetadataStore",
    "MetaxyError",
    "SQLAlchemyMetadataStore",
    "__version__",
]  # store classes with optional drivers are listed here too, and resolved by __getattr__


def __getattr__(name: str) -> Any:
    """Store classes whose drivers are optional are imported on first use."""
    if name in LAZY_STORES:
        import metaxy.stores

        return getattr(metaxy.stores, name)
    raise AttributeError(f"module 'metaxy' has no attribute {name!r}")
