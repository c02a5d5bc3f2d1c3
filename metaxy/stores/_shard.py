"""``shard=(i, n)`` on reads and resolutions: the shard becomes one more filter on the versioning keys.

The filter is a :class:`~metaxy.versioning.shard.ShardFilter`: Polars runs it like any expression, SQL
stores push the same rule into their queries, so every store selects the same samples for a shard.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.versioning.lineage import versioning_keys
from metaxy.versioning.shard import Shard, ShardFilter, check_shard_columns, shard_filter

ShardSpec = Shard | tuple[int, int] | None


def with_shard(
    filters: tuple[pl.Expr, ...], shard: Any, key: FeatureKey, graph: FeatureGraph, *, where: str
) -> tuple[pl.Expr, ...]:
    """``filters`` plus the shard's filter (unchanged when ``shard`` is None).

    Raises:
        InvalidShardError: ``shard`` is not a valid ``(index, count)`` pair.
    """
    if shard is None:
        return filters
    chosen = Shard.coerce(shard, where=where)
    return (*filters, shard_filter(chosen, versioning_keys(graph.plan(key))))


def check_sharded(lf: pl.LazyFrame, filters: tuple[pl.Expr, ...], *, where: str) -> None:
    """Refuse a shard whose key columns in ``lf`` are not integers or strings (see the shard rule)."""
    for expr in filters:
        if isinstance(expr, ShardFilter):
            check_shard_columns(lf.collect_schema(), expr.columns, where=where)
