"""``metaxy stats --partitions``: how a feature's table is partitioned and what the advisor suggests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from metaxy.constants import PREFIX
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore

#: stored rows the advisor looks at (the latest ones of the current version)
SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class PartitionReport:
    """One feature's partitions in one store."""

    key: FeatureKey
    columns: list[str]
    files: int | None
    rows: int
    advice: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.key.to_string(),
            "partition_columns": self.columns,
            "files": self.files,
            "rows": self.rows,
            "advice": self.advice,
        }


def partition_report(
    store: MetadataStore, key: FeatureKey, *, sample_rows: int = SAMPLE_ROWS
) -> PartitionReport:
    """The feature's partition columns, data files and stored rows, and the advisor's columns computed
    from up to ``sample_rows`` of its stored samples (none stored: no advice).

    Raises:
        UnknownFeatureError: ``key`` is not in the active graph.
    """
    files = store.partition_files(key)
    rows = 0
    if key in store.list_features():
        rows = int(
            store.read_metadata(key, history=True, allow_fallback=False).select(pl.len()).collect().item()
        )
    advice: list[str] = []
    if rows:
        stored = store.read_metadata(key, allow_fallback=False).head(sample_rows).collect()
        sample = stored.select(c for c in stored.columns if not c.startswith(PREFIX))
        advice = store.analyze_partition_strategy(key, sample, total_rows=rows)
    return PartitionReport(
        key, store.partition_columns(key), None if files is None else files[1], rows, advice
    )
