"""The partition advisor's rule: which columns to partition a feature's table by, from a sample of rows.

The rule (``docs/partitioning.md`` explains it with examples):

1. **Size.** ``N`` rows are expected (the stored count, or ``total_rows``); a row weighs what the
   sample's rows weigh on average. A partition should hold at least one target file of
   ``target_file_bytes`` (128 MiB by default), i.e. ``R = target_file_bytes / bytes_per_row`` rows,
   so at most ``N / R`` partitions are worth having. Fewer than two: nothing is recommended.
2. **Candidates.** Columns of the sample that are not system columns, not id columns, and of a type
   that names a partition exactly (strings, integers, booleans, dates, categoricals); a timestamp
   (or date) column is a *time* candidate ``"column:grain"`` at the finest grain (hour, day, month,
   year) whose distinct values still fit. A candidate's cardinality is its number of distinct values
   in the sample.
3. **Filters.** When the store recorded the filters of recent reads (an
   :class:`~metaxy.stores.wrappers.instrumented.InstrumentedMetadataStore`), only columns those
   filters named are candidates, the most filtered first: partitions only help reads that filter on
   them. Otherwise every candidate is, the coarsest (fewest values) first.
4. **Levels.** Candidates are taken in that order while the product of their cardinalities stays at
   most ``N / R``; the result lists the chosen levels outermost first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from metaxy.constants import PREFIX
from metaxy.stores._partitioning import TIME_GRAINS

#: a partition should hold at least one file of this size (Parquet readers' sweet spot)
DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    """A column (or ``"column:grain"`` time level) and how many partitions it would make."""

    name: str
    cardinality: int


def advise_partitions(
    sample: pl.DataFrame,
    *,
    total_rows: int,
    ids: Sequence[str] = (),
    filter_counts: Mapping[str, int] | None = None,
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
) -> list[str]:
    """The partition columns the rule above recommends (outermost first; ``[]``: do not partition)."""
    if sample.height == 0 or total_rows <= 0:
        return []
    bytes_per_row = max(1.0, sample.estimated_size() / sample.height)
    rows_per_partition = max(1.0, target_file_bytes / bytes_per_row)
    budget = total_rows / rows_per_partition  # the most partitions worth having
    if budget < 2:
        return []
    seen = {c: n for c, n in (filter_counts or {}).items() if n > 0}
    chosen: list[str] = []
    partitions = 1.0
    for column in _ordered_columns(sample, ids, seen):
        candidate = _candidate(sample, column, budget / partitions)
        if candidate is not None and candidate.cardinality >= 2:
            chosen.append(candidate.name)
            partitions *= candidate.cardinality
    return chosen


def _ordered_columns(sample: pl.DataFrame, ids: Sequence[str], seen: Mapping[str, int]) -> list[str]:
    usable = [
        c
        for c in sample.columns
        if not c.startswith(PREFIX) and c not in ids and _partitionable(sample.schema[c])
    ]
    if seen:
        return sorted((c for c in usable if c in seen), key=lambda c: (-seen[c], c))
    return sorted(usable, key=lambda c: (_distinct(sample[c]), c))


def _candidate(sample: pl.DataFrame, column: str, room: float) -> Candidate | None:
    """``column`` as a partition level if its partitions fit in ``room`` (a time column: at the finest
    grain that fits)."""
    dtype = sample.schema[column]
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        grains = TIME_GRAINS if isinstance(dtype, pl.Datetime) else TIME_GRAINS[:3]
        for grain in reversed(grains):
            count = _distinct(sample[column].dt.truncate(_EVERY[grain]))
            if count <= room:
                return Candidate(f"{column}:{grain}", count)
        return None
    count = _distinct(sample[column])
    return Candidate(column, count) if count <= room else None


_EVERY = {"year": "1y", "month": "1mo", "day": "1d", "hour": "1h"}


def _distinct(series: pl.Series) -> int:
    return int(series.n_unique())


def _partitionable(dtype: pl.DataType) -> bool:
    return dtype.is_integer() or isinstance(
        dtype, pl.String | pl.Boolean | pl.Date | pl.Datetime | pl.Categorical | pl.Enum
    )
