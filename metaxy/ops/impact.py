"""How many stored samples a graph change would send back to computation, per feature."""

from __future__ import annotations

import polars as pl

from metaxy.constants import FEATURE_VERSION
from metaxy.models.diff import GraphDiff
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore


def count_impact(store: MetadataStore, diff: GraphDiff) -> dict[FeatureKey, int]:
    """Samples of each changed or impacted feature that ``store`` holds at a version other than the new one.

    These are the samples the next ``resolve_update`` reports as stale (before any migration). Only
    this store is counted, not its fallbacks; a feature with nothing stored counts 0.
    """
    store._require_open()
    counts: dict[FeatureKey, int] = {}
    for change in diff.changed:
        rows = store._read_rows(
            change.feature,
            change.id_columns,
            feature_version=None,
            latest=True,
            include_deleted=False,
            filters=[],
        )
        if rows is None:
            counts[change.feature] = 0
            continue
        outdated = rows.filter(pl.col(FEATURE_VERSION) != change.new_version).select(pl.len())
        counts[change.feature] = int(outdated.collect().item())
    return counts
