"""Per-feature status of a store: how many samples are new, stale or orphaned right now."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from metaxy.constants import FEATURE_VERSION, PROVENANCE_BY_FIELD
from metaxy.exceptions import FeatureNotFoundError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore
from metaxy.versioning.lineage import expands


@dataclass(frozen=True)
class FeatureStatus:
    """What ``resolve_update`` would report for one feature, as counts.

    ``state`` is ``"in-sync"``, ``"empty"`` (a root feature with no stored samples), ``"to-do"`` (something is new, stale or orphaned) or
    ``"upstream-missing"`` (an upstream has no metadata at its current version, so nothing can be
    resolved; ``stale`` then counts the samples stored under another feature version, the ones a
    definition change sends back to computation). Root features are checked against their own
    stored samples: only samples stored under another feature version count (as stale).

    ``stored`` counts stored samples (rows) of the current version. ``unit`` says what ``new``,
    ``stale`` and ``orphaned`` count: ``"samples"``, or for an expansion ``"parents"`` (one per
    parent key to expand, while ``stored`` counts the children).
    """

    key: FeatureKey
    is_root: bool
    stored: int
    new: int
    stale: int
    orphaned: int
    state: str
    unit: str = "samples"
    failed: int = 0

    @property
    def in_sync(self) -> bool:
        return self.state in ("in-sync", "empty")

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.key.to_string(),
            "root": self.is_root,
            "stored": self.stored,
            "new": self.new,
            "stale": self.stale,
            "orphaned": self.orphaned,
            "state": self.state,
            "unit": self.unit,
            "failed": self.failed,
        }


def feature_status(store: MetadataStore, key: FeatureKey, graph: FeatureGraph) -> FeatureStatus:
    """Counts for ``key`` in ``store`` (the store must be open; upstream read through fallbacks)."""
    plan = graph.plan(key)
    stored = _count_current(store, key)
    samples = _stored_samples(store, key, plan.spec.id_columns) if plan.is_root else None
    if plan.is_root and samples is None:
        return FeatureStatus(key, True, 0, 0, 0, 0, "empty")
    unit = "parents" if expands(plan) else "samples"
    try:
        increment = store.resolve_update(key, samples=samples)
        counts = increment.counts
    except FeatureNotFoundError:
        outdated = _count_outdated(store, key, plan.feature_version)
        return FeatureStatus(key, plan.is_root, stored, 0, outdated, 0, "upstream-missing", unit)
    state = "to-do" if any(counts.values()) else "in-sync"
    return FeatureStatus(
        key,
        plan.is_root,
        stored,
        counts["new"],
        counts["stale"],
        counts["orphaned"],
        state,
        unit,
        increment.failed.height,
    )


def store_status(
    store: MetadataStore,
    graph: FeatureGraph,
    keys: Sequence[FeatureKey] | None = None,
    *,
    on_feature: Callable[[FeatureKey], None] | None = None,
) -> list[FeatureStatus]:
    """:func:`feature_status` for ``keys`` (default: every feature), upstream first.

    ``on_feature`` is called before each feature (progress reporting).
    """
    result = []
    for key in keys if keys is not None else graph.topological_order():
        if on_feature is not None:
            on_feature(key)
        result.append(feature_status(store, key, graph))
    return result


def _count_current(store: MetadataStore, key: FeatureKey) -> int:
    try:
        lf = store.read_metadata(key, allow_fallback=False)
    except FeatureNotFoundError:
        return 0
    return int(lf.select(pl.len()).collect().item())


def _count_outdated(store: MetadataStore, key: FeatureKey, version: str) -> int:
    """Live samples stored under a feature version other than ``version``."""
    try:
        lf = store.read_metadata(key, all_versions=True, allow_fallback=False)
    except FeatureNotFoundError:
        return 0
    return int(lf.filter(pl.col(FEATURE_VERSION) != version).select(pl.len()).collect().item())


def _stored_samples(store: MetadataStore, key: FeatureKey, ids: Sequence[str]) -> pl.DataFrame | None:
    """Latest stored row per sample at any feature version: the known samples of a root feature."""
    try:
        lf = store.read_metadata(key, all_versions=True, allow_fallback=False)
    except FeatureNotFoundError:
        return None
    return lf.select(*ids, PROVENANCE_BY_FIELD).collect()
