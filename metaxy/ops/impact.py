"""How many stored samples a graph change would send back to computation, per feature."""

from __future__ import annotations

import polars as pl

from metaxy.constants import FEATURE_VERSION
from metaxy.models.diff import GraphDiff
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore, ReadRequest
from metaxy.versioning.staleness import is_stale_definition


def count_impact(store: MetadataStore, diff: GraphDiff) -> dict[FeatureKey, int]:
    """Samples of each changed or impacted feature that ``store`` holds at a version other than the new one.

    These are stale whatever the upstream holds (see :mod:`metaxy.versioning.staleness`), so the
    next ``resolve_update`` reports them as stale (before any migration). Only
    this store is counted, not its fallbacks; a feature with nothing stored counts 0.
    """
    store.require_open()
    counts: dict[FeatureKey, int] = {}
    for change in diff.changed:
        rows = store.read_rows(ReadRequest(change.feature, tuple(change.id_columns)))
        if rows is None:
            counts[change.feature] = 0
            continue
        stale = rows.filter(is_stale_definition(pl.col(FEATURE_VERSION), change.new_version))
        counts[change.feature] = int(stale.select(pl.len()).collect().item())
    return counts
