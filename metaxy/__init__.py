"""metaxy: feature-metadata versioning for ML and multimodal pipelines.

Declare features as classes, let metaxy compute per-sample versions, and ask any store
``resolve_update(Feature)`` for the samples that must be (re)computed.
"""

from __future__ import annotations

from typing import Any

from metaxy.catalog import InMemoryCatalog, MaterializationCatalog, PostgresCatalog, SQLiteCatalog
from metaxy.config import init
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
from metaxy.models.diff import GraphDiff, diff_graphs
from metaxy.models.feature import FeatureLike
from metaxy.ops.impact import count_impact
from metaxy.ops.migrate import MigrationReport, migrate_data_versions
from metaxy.ops.snapshots import list_graph_snapshots, load_graph_snapshot, push_graph_snapshot
from metaxy.stores import LAZY_STORES, InMemoryMetadataStore, MetadataStore
from metaxy.versioning import HashAlgorithm, Increment
from metaxy.versioning.frames import FrameLike

__version__ = "0.2.0"

__all__ = [
    "ALL",
    "BaseFeature",
    "CachedMetadataStore",
    "ClickHouseMetadataStore",
    "DeltaMetadataStore",
    "DuckDBMetadataStore",
    "Feature",
    "FeatureDep",
    "FeatureGraph",
    "FeatureKey",
    "FeatureLike",
    "FeatureSpec",
    "FieldDep",
    "FieldKey",
    "FieldSpec",
    "FieldsMapping",
    "FrameLike",
    "GraphDiff",
    "HashAlgorithm",
    "InMemoryCatalog",
    "InMemoryMetadataStore",
    "Increment",
    "InstrumentedMetadataStore",
    "LineageRelationship",
    "MaterializationCatalog",
    "MetadataStore",
    "MetaxyError",
    "MigrationReport",
    "PostgresCatalog",
    "SQLAlchemyMetadataStore",
    "SQLiteCatalog",
    "__version__",
    "count_impact",
    "diff_graphs",
    "init",
    "list_graph_snapshots",
    "load_graph_snapshot",
    "migrate_data_versions",
    "push_graph_snapshot",
]  # store classes with optional drivers are listed here too, and resolved by __getattr__


def __getattr__(name: str) -> Any:
    """Store classes whose drivers are optional are imported on first use."""
    if name in LAZY_STORES:
        import metaxy.stores

        return getattr(metaxy.stores, name)
    raise AttributeError(f"module 'metaxy' has no attribute {name!r}")
