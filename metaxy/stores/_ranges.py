"""Splitting a large resolution into ranges of its id, so a process holds one range of rows at a time.

Resolving N samples reads the ids and data versions of every upstream row before hashing them; at
10M samples of a four-field, two-upstream graph that is ~1.4 GB of version strings, next to what the
database keeps of the blocks it read. When the feature and each of its upstreams are identified by the
same single integer column (identity lineage: no expansion, aggregation, foreign key or renamed id),
the increment of all samples is the union of the increments of disjoint ranges of that column: a
sample's versions depend on its own upstream rows only, and every row of one id (its history, its
tombstones) falls into one range. A store opts in by setting ``resolve_batch_rows`` and answering
``_id_bounds``; a resolution then reads, hashes and compares one range after the other, each range
read through filters the store runs itself (docs/stores.md#resolving-in-id-ranges).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import polars as pl

from metaxy.exceptions import ConfigError
from metaxy.models.fields import LineageKind
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


@dataclass(frozen=True)
class IdBounds:
    """The smallest and largest value of an integer id column of a table (None when it has no rows),
    and how many rows the table holds (its whole history)."""

    low: int | None
    high: int | None
    rows: int
    #: how many rows hold a value of a column counted beside (see ``SQLMetadataStore._bounds``)
    counted: int = 0

    @property
    def dense(self) -> bool:
        """Whether there are as many rows as integers from ``low`` to ``high``: each id once, unless
        one repeats where another is missing."""
        return self.low is not None and self.high is not None and self.high - self.low + 1 == self.rows


NO_ROWS = IdBounds(None, None, 0)


def check_batch_rows(value: int | None, *, where: str) -> int | None:
    """``value`` if it is a valid ``resolve_batch_rows`` (a positive integer, or None).

    Raises:
        ConfigError: it is not.
    """
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ConfigError(
        f"{where}: resolve_batch_rows={value!r} is not a number of rows.",
        hint="Pass a positive integer (rows per range of ids), or None to read everything at once.",
    )


def range_column(plan: FeaturePlan) -> str | None:
    """The one id column ``plan``'s feature and all its upstreams share, if its resolution may be split
    by ranges of it; None otherwise."""
    if len(plan.spec.id_columns) != 1 or not plan.spec.deps:
        return None
    (column,) = plan.spec.id_columns
    for dep in plan.spec.deps:
        renamed = set(dep.rename_map) | set(dep.rename_map.values())
        if (
            dep.is_foreign_key
            or dep.lineage.kind is not LineageKind.IDENTITY
            or tuple(plan.upstream[dep.feature].id_columns) != (column,)
            or column in renamed
        ):
            return None
    return column


def id_ranges(
    store: MetadataStore, plan: FeaturePlan, upstream: Mapping[FeatureKey, MetadataStore]
) -> list[pl.Expr]:
    """Filters splitting the resolution of ``plan`` in ``store`` into ranges of its id column (the
    first range open below, the last open above), each covering about ``store.resolve_batch_rows`` of
    the rows of the largest table involved; empty when one read is to be made instead.

    ``upstream``: the store holding each upstream. Each must read by ranges itself (its own
    ``resolve_batch_rows`` set: a filter on the ids skips storage, as DuckDB's row-group bounds do)
    and tell the id bounds of its table.
    """
    rows_per_range = store.resolve_batch_rows
    column = range_column(plan)
    if rows_per_range is None or column is None:
        return []
    if any(holder.resolve_batch_rows is None for holder in upstream.values()):
        return []
    bounds = [store._id_bounds(plan.key, column)]
    bounds += [holder._id_bounds(key, column) for key, holder in upstream.items()]
    known = [b for b in bounds if b is not None]
    if len(known) < len(bounds):
        return []
    rows = max(b.rows for b in known)
    lows = [b.low for b in known if b.low is not None]
    highs = [b.high for b in known if b.high is not None]
    if rows <= rows_per_range or not lows or not highs:
        return []
    low, high = min(lows), max(highs)
    count = min(math.ceil(rows / rows_per_range), high - low + 1)
    if count < 2:
        return []
    edges = [low + (high - low + 1) * i // count for i in range(1, count)]
    id_column = pl.col(column)
    middle = [(id_column >= a) & (id_column < b) for a, b in pairwise(edges)]
    return [id_column < edges[0], *middle, id_column >= edges[-1]]
