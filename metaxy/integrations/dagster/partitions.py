"""Dagster partitions as metaxy filters: a partition key becomes a condition on one column, so a
partitioned asset resolves, writes and versions only its slice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
import polars as pl

from metaxy.exceptions import IntegrationError

#: definition metadata naming the column a partitioned feature asset is sliced by
PARTITION_COLUMN_KEY = "metaxy/partition_column"

#: a column name (partition key == column value, compared as text) or a key -> condition function
PartitionBy = str | Callable[[str], pl.Expr]


def partition_filter(partition_by: PartitionBy, keys: Sequence[str]) -> pl.Expr:
    """The condition selecting the rows of ``keys`` (one partition, or a range of them)."""
    if not keys:
        raise IntegrationError("No partition key to filter on.", hint="Run the asset for a partition.")
    if callable(partition_by):
        conditions = [partition_by(k) for k in keys]
        if not all(isinstance(c, pl.Expr) for c in conditions):
            raise IntegrationError(
                f"partition_by returned {conditions[0]!r}, not a Polars expression.",
                hint='Return a condition such as pl.col("day") == key.',
            )
        out = conditions[0]
        for condition in conditions[1:]:
            out = out | condition
        return out
    column = pl.col(partition_by).cast(pl.String)
    return column == keys[0] if len(keys) == 1 else column.is_in(list(keys))


def asset_filters(context: dg.AssetExecutionContext, partition_by: PartitionBy | None) -> tuple[pl.Expr, ...]:
    """The filters of the partition(s) this run materializes (none when the run is not partitioned).

    Raises:
        IntegrationError: the asset is partitioned but has no ``partition_by``.
    """
    if not context.has_partition_key and not context.has_partition_key_range:
        return ()
    if partition_by is None:
        raise IntegrationError(
            f"Asset {context.asset_key.to_user_string()} is partitioned but has no partition_by, so every "
            "partition would resolve and write the whole feature.",
            hint='Pass partition_by="column" (or a function key -> pl.Expr) to metaxy_asset(...).',
        )
    return (partition_filter(partition_by, list(context.partition_keys)),)


def input_filters(context: dg.InputContext, metadata: Mapping[str, Any]) -> tuple[pl.Expr, ...]:
    """The filters selecting the upstream partition(s) an input reads, when the upstream asset is
    sliced by a column; none otherwise."""
    named = metadata.get(PARTITION_COLUMN_KEY)
    column = getattr(named, "value", named)
    if not isinstance(column, str) or not context.has_asset_partitions:
        return ()
    return (partition_filter(column, list(context.asset_partition_keys)),)
