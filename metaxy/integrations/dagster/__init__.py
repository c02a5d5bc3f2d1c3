"""Dagster integration (extra ``dagster``): Dagster decides which asset runs, metaxy which samples.

- :func:`metaxy_asset` turns a feature into an asset whose body computes only new and stale samples;
  :func:`feature_asset_spec` / :func:`feature_asset_specs` give the specs alone.
- :func:`metaxy_store_resource` opens a store (a store object, or one named in ``metaxy.toml``) for
  the run; :func:`metaxy_io_manager` loads upstream features as lazy frames and appends outputs.
- Data versions are the store's provenance digest (:func:`data_version`); :func:`observable_feature`
  reports it for root features written outside Dagster.

Guide: ``docs/dagster.md``.
"""

from __future__ import annotations

from metaxy.stores._drivers import import_driver

import_driver(
    "dagster", "dagster", needed_by="metaxy.integrations.dagster"
)  # a missing Dagster says which extra to install

from metaxy.integrations.dagster.assets import (  # noqa: E402
    FeatureContext,
    materialize_result,
    metaxy_asset,
    preview_markdown,
)
from metaxy.integrations.dagster.partitions import (  # noqa: E402
    PARTITION_COLUMN_KEY,
    PartitionBy,
    partition_filter,
)
from metaxy.integrations.dagster.resources import (  # noqa: E402
    STORE_RESOURCE_KEY,
    MetaxyIOManager,
    RunStampedStore,
    metaxy_io_manager,
    metaxy_store_resource,
)
from metaxy.integrations.dagster.specs import (  # noqa: E402
    asset_key,
    column_lineage,
    column_schema,
    feature_asset_spec,
    feature_asset_specs,
)
from metaxy.integrations.dagster.versions import EMPTY_DIGEST, data_version, observable_feature  # noqa: E402

__all__ = [
    "EMPTY_DIGEST",
    "PARTITION_COLUMN_KEY",
    "STORE_RESOURCE_KEY",
    "FeatureContext",
    "MetaxyIOManager",
    "PartitionBy",
    "RunStampedStore",
    "asset_key",
    "column_lineage",
    "column_schema",
    "data_version",
    "feature_asset_spec",
    "feature_asset_specs",
    "materialize_result",
    "metaxy_asset",
    "metaxy_io_manager",
    "metaxy_store_resource",
    "observable_feature",
    "partition_filter",
    "preview_markdown",
]
