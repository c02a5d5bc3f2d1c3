"""Per-feature numbers for ``metaxy stats``: stored rows, versions, last materialization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from metaxy.constants import DELETED_AT, FEATURE_VERSION, UPDATED_AT
from metaxy.exceptions import FeatureNotFoundError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore


@dataclass(frozen=True)
class FeatureStats:
    """Stored numbers of one feature in one store (not its fallbacks)."""

    key: FeatureKey
    fields: int
    samples: int
    rows: int
    versions: int
    last_materialized_at: datetime | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        last = self.last_materialized_at
        return {
            "feature": self.key.to_string(),
            "fields": self.fields,
            "samples": self.samples,
            "rows": self.rows,
            "versions": self.versions,
            "last_materialized_at": None if last is None else last.isoformat(),
            "source": self.source,
        }


def feature_stats(store: MetadataStore, key: FeatureKey, graph: FeatureGraph) -> FeatureStats:
    """``samples``: live samples at the current version; ``rows``: every stored row (history).

    ``versions`` counts distinct stored feature versions. The last materialization comes from the
    store's catalog when it has one (no storage read), else from the newest stored row.
    """
    fields = len(graph.spec(key).fields)
    try:
        history = store.read_metadata(key, history=True, allow_fallback=False)
    except FeatureNotFoundError:
        return FeatureStats(key, fields, 0, 0, 0, _catalog_last(store, key), _source(store))
    summary = history.select(
        pl.len().alias("rows"),
        pl.col(FEATURE_VERSION).n_unique().alias("versions"),
        pl.col(UPDATED_AT).filter(pl.col(DELETED_AT).is_null()).max().alias("last"),
    ).collect()
    samples = _count_live(store, key)
    last = _catalog_last(store, key) if store.catalog is not None else summary["last"][0]
    return FeatureStats(
        key, fields, samples, int(summary["rows"][0]), int(summary["versions"][0]), last, _source(store)
    )


def _count_live(store: MetadataStore, key: FeatureKey) -> int:
    try:
        return int(store.read_metadata(key, allow_fallback=False).select(pl.len()).collect().item())
    except FeatureNotFoundError:
        return 0


def _source(store: MetadataStore) -> str:
    return "catalog" if store.catalog is not None else "store"


def _catalog_last(store: MetadataStore, key: FeatureKey) -> datetime | None:
    info = getattr(store.catalog, "get_materialization_info", None)
    if info is None:
        return None
    frame = info(key, store=store.name)
    if not isinstance(frame, pl.DataFrame) or frame.height == 0 or "materialized_at" not in frame.columns:
        return None
    value = frame["materialized_at"].max()
    return value if isinstance(value, datetime) else None
