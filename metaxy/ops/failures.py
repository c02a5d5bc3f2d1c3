"""What ``metaxy errors FEATURE`` shows: a feature's failed samples grouped by error type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from metaxy.constants import CREATED_AT, PROVENANCE, UPDATED_AT
from metaxy.exceptions import FeatureNotFoundError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore
from metaxy.versioning.lineage import versioning_keys

#: how many sample ids a group lists (``count`` has them all)
SAMPLE_LIMIT = 10


@dataclass(frozen=True)
class ErrorGroup:
    """The failed samples of one feature sharing an error type."""

    error_type: str
    count: int
    samples: list[dict[str, Any]]
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_type": self.error_type,
            "count": self.count,
            "samples": self.samples,
            "message": self.message,
        }

    def samples_text(self) -> str:
        shown = ", ".join(json.dumps(s, default=str) for s in self.samples)
        return shown + (
            f" (+{self.count - len(self.samples)} more)" if self.count > len(self.samples) else ""
        )


def current_failures(store: MetadataStore, key: FeatureKey, graph: FeatureGraph) -> pl.DataFrame:
    """The samples of ``key`` whose latest attempt at their current provenance failed.

    ``resolve_update(...).failed``; for a root feature (whose samples only the pipeline knows) and a
    feature whose upstream is not materialized: each sample's latest recorded error, unless a row of
    the sample was stored after it.
    """
    plan = graph.plan(key)
    if not plan.is_root:
        try:
            return store.resolve_update(key).failed
        except FeatureNotFoundError:
            pass
    keys = versioning_keys(plan)
    errors = store.read_errors(key).collect()
    if not errors.height:
        return errors
    latest = errors.sort(CREATED_AT).group_by(keys).last()
    counts = errors.group_by([*keys, PROVENANCE]).len("attempts")
    latest = latest.join(counts, on=[*keys, PROVENANCE]).rename({CREATED_AT: "last_attempt_at"})
    try:
        stored = store.read_metadata(key, all_versions=True, allow_fallback=False).collect()
    except FeatureNotFoundError:
        return latest
    written = stored.group_by(keys).agg(pl.col(UPDATED_AT).max())
    written = written.with_columns(pl.col(k).cast(latest.schema[k]) for k in keys)
    joined = latest.join(written, on=keys, how="left")
    return joined.filter(
        pl.col(UPDATED_AT).is_null() | (pl.col("last_attempt_at") > pl.col(UPDATED_AT))
    ).drop(UPDATED_AT)


def error_groups(store: MetadataStore, key: FeatureKey, graph: FeatureGraph) -> list[ErrorGroup]:
    """:func:`current_failures` grouped by error type, most frequent first, with up to
    :data:`SAMPLE_LIMIT` sample ids and the latest message of each."""
    failed = current_failures(store, key, graph)
    keys = versioning_keys(graph.plan(key))
    groups = []
    for (error_type,), rows in failed.sort("last_attempt_at").group_by(["error_type"], maintain_order=True):
        ids = rows.select(keys).sort(keys).head(SAMPLE_LIMIT).to_dicts()
        groups.append(ErrorGroup(str(error_type), rows.height, ids, rows["error_message"][-1]))
    return sorted(groups, key=lambda g: (-g.count, g.error_type))
