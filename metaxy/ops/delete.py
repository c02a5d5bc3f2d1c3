"""What a delete would remove, counted without deleting (``metaxy metadata delete --dry-run``)."""

from __future__ import annotations

import polars as pl

from metaxy.exceptions import FeatureNotFoundError
from metaxy.stores.base import FeatureLike, Filters, MetadataStore


def count_deletable(
    store: MetadataStore, feature: FeatureLike, *, filters: Filters = None, soft: bool = True
) -> int:
    """The number ``store.delete_metadata(feature, filters=..., soft=...)`` would return; nothing changes.

    Soft: live samples (latest row, any feature version) matching ``filters``. Hard: stored rows of
    any version, history and tombstones included, matching ``filters``. Only ``store`` is counted,
    never its fallbacks.
    """
    try:
        if soft:
            rows = store.read_metadata(feature, filters=filters, all_versions=True, allow_fallback=False)
        else:
            rows = store.read_metadata(feature, filters=filters, history=True, allow_fallback=False)
    except FeatureNotFoundError:
        return 0
    return int(rows.select(pl.len()).collect().item())
