"""metaxy: feature-metadata versioning for ML and multimodal pipelines.

Declare features as classes, let metaxy compute per-sample versions, and ask any store
``resolve_update(Feature)`` for the samples that must be (re)computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from metaxy.stores import LAZY_STORES, MetadataStore, RetryPolicy, backends
from metaxy.stores._prune import PruneReport
from metaxy.stores._schema_migration import SchemaMigration, SchemaMigrationReport
from metaxy.versioning import HashAlgorithm, Increment
from metaxy.versioning.frames import FrameLike

if TYPE_CHECKING:  # every store class of the backend table, typed precisely (backends.__all__)
    from metaxy.stores.backends import *  # noqa: F403

__version__ = "0.2.0"

__all__ = [
    "ALL",
    "BaseFeature",
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
    "Increment",
    "LineageRelationship",
    "MaterializationCatalog",
    "MetadataStore",
    "MetaxyError",
    "MigrationReport",
    "PostgresCatalog",
    "PruneReport",
    "RetryPolicy",
    "SQLiteCatalog",
    "SchemaMigration",
    "SchemaMigrationReport",
    "__version__",
    "count_impact",
    "diff_graphs",
    "init",
    "list_graph_snapshots",
    "load_graph_snapshot",
    "migrate_data_versions",
    "push_graph_snapshot",
]
__all__ += backends.__all__  # the store classes of the backend table; drivers load on first use
__all__.sort()


def __getattr__(name: str) -> Any:
    """Store classes whose drivers are optional are imported on first use."""
    if name in LAZY_STORES:
        import metaxy.stores

        return getattr(metaxy.stores, name)
    raise AttributeError(f"module 'metaxy' has no attribute {name!r}")
