"""Operations on top of any store: status, stats, impact, migrations, snapshots, copy, delete counts.

They use only the stores' public, documented API (``read_metadata``, ``read_rows``,
``append_rows``, ``read_system_table``, ...), never a store's private methods.
"""

from metaxy.ops.copy import copy_metadata
from metaxy.ops.delete import count_deletable
from metaxy.ops.impact import count_impact
from metaxy.ops.migrate import FeatureMigration, MigrationReport, migrate_data_versions
from metaxy.ops.snapshots import (
    SNAPSHOTS_KEY,
    list_graph_snapshots,
    load_graph_snapshot,
    load_snapshot_dict,
    push_graph_snapshot,
)
from metaxy.ops.stats import FeatureStats, feature_stats
from metaxy.ops.status import FeatureStatus, feature_status, store_status
from metaxy.ops.stores import StoreInfo, describe_stores, require_existing

__all__ = [
    "SNAPSHOTS_KEY",
    "FeatureMigration",
    "FeatureStats",
    "FeatureStatus",
    "MigrationReport",
    "StoreInfo",
    "copy_metadata",
    "count_deletable",
    "count_impact",
    "describe_stores",
    "feature_stats",
    "feature_status",
    "list_graph_snapshots",
    "load_graph_snapshot",
    "load_snapshot_dict",
    "migrate_data_versions",
    "push_graph_snapshot",
    "require_existing",
    "store_status",
]
