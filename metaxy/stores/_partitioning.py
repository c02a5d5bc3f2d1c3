"""How a partitioned store lays out a feature's rows: partition columns, time levels derived at write
time, per-feature overrides, and which read filters may skip partitions.

The pruning rule: a filter may be applied *before* latest-row-wins (so that whole partitions are skipped)
only when every column it names is a partition column whose value never changes for a sample. Id
columns never change; other user partition columns (and time levels) are kept stable by the store,
which refuses a write that would move a stored sample to another partition
(:func:`check_no_moves`). System columns are never pruned on from a user filter (a sample's feature
version does change), though reads of one feature version prune on ``metaxy_feature_version`` anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from metaxy.constants import PREFIX
from metaxy.exceptions import ConfigError, SchemaError
from metaxy.models.keys import FeatureKey
from metaxy.versioning.shard import ShardFilter, shard_number

#: the time levels ``time_partitioning`` derives, coarsest first; a grain derives itself and the coarser
TIME_GRAINS: tuple[str, ...] = ("year", "month", "day", "hour")


@dataclass(frozen=True)
class Partitioning:
    """The partition layout of one feature's table.

    Attributes:
        columns: the partition columns, outermost first (derived time levels included).
        time_source: the timestamp (or date) column the time levels are derived from.
        time_grain: the finest time level (``"year"``, ``"month"``, ``"day"`` or ``"hour"``).
        shard_buckets: ``B``: a column ``shard_B`` holds each sample's shard of ``B`` (the shard rule
            of :mod:`metaxy.versioning.shard`), so that ``shard=(i, n)`` with ``n`` dividing ``B``
            reads ``B / n`` of its partitions.
    """

    columns: tuple[str, ...]
    time_source: str | None = None
    time_grain: str | None = None
    shard_buckets: int | None = None

    @property
    def shard_column(self) -> str | None:
        """The derived shard column (``"shard_16"``), or None."""
        return None if self.shard_buckets is None else shard_column(self.shard_buckets)

    @property
    def time_levels(self) -> tuple[str, ...]:
        """The derived columns (``("year", "month", "day")`` for a day grain)."""
        if self.time_grain is None:
            return ()
        return TIME_GRAINS[: TIME_GRAINS.index(self.time_grain) + 1]

    @classmethod
    def build(
        cls,
        partition_cols: Sequence[str] | None,
        time_partitioning: Any,
        shard_buckets: int | None = None,
        *,
        where: str,
    ) -> Partitioning | None:
        """The layout from the store options (None: not partitioned).

        ``time_partitioning`` is ``(column, grain)``; its levels take their place in ``partition_cols``
        when listed there, and are appended after the listed columns otherwise.

        Raises:
            ConfigError: a grain that is not one of :data:`TIME_GRAINS`, or a malformed option.
        """
        if isinstance(partition_cols, str):
            partition_cols = [partition_cols]
        columns = [str(c) for c in partition_cols or ()]
        if len(set(columns)) != len(columns):
            raise ConfigError(
                f"{where}: partition_cols {columns} names a column twice.",
                hint="List each partition column once, outermost first.",
            )
        source, grain = _time_option(time_partitioning, where=where)
        if grain is not None:
            columns += [
                level for level in TIME_GRAINS[: TIME_GRAINS.index(grain) + 1] if level not in columns
            ]
        if shard_buckets is not None:
            if isinstance(shard_buckets, bool) or not isinstance(shard_buckets, int) or shard_buckets < 2:
                raise ConfigError(
                    f"{where}: shard_buckets={shard_buckets!r} is not an integer of at least 2.",
                    hint="Use a power of two such as 16: shard=(i, n) prunes for every n dividing it.",
                )
            if shard_column(shard_buckets) not in columns:
                columns.append(shard_column(shard_buckets))
        if not columns:
            return None
        return cls(tuple(columns), source, grain, shard_buckets)

    def derive(self, frame: pl.DataFrame, *, where: str) -> pl.DataFrame:
        """``frame`` with the time levels computed from the time source (a written frame).

        A frame already carrying a level (rows read back and written again) keeps it when it agrees.

        Raises:
            SchemaError: the source column is missing, not a date or timestamp, null, or a carried
                level disagrees with it.
        """
        if self.time_source is None:
            return frame
        source = self.time_source
        if source not in frame.columns:
            raise SchemaError(
                f"{where}: time_partitioning derives {list(self.time_levels)} from column {source!r}, "
                "which the written frame lacks.",
                hint=f"Write {source!r} with every row, or change the store's time_partitioning.",
            )
        dtype = frame.schema[source]
        if not (isinstance(dtype, pl.Datetime) or dtype == pl.Date):
            raise SchemaError(
                f"{where}: time_partitioning column {source!r} is {dtype}, not a date or timestamp.",
                hint=f"Write {source!r} as pl.Datetime or pl.Date, or partition by another column.",
            )
        nulls = frame[source].null_count()
        if nulls:
            raise SchemaError(
                f"{where}: time_partitioning column {source!r} is null in {nulls} row(s); each row needs "
                "a time to find its partition.",
                hint=f"Fill {source!r} before writing.",
            )
        levels = {
            level: _level(pl.col(source), level).cast(pl.Int32).alias(level) for level in self.time_levels
        }
        carried = [level for level in levels if level in frame.columns]
        if carried:
            _check_carried(frame, carried, levels, where=where)
        return frame.with_columns(levels.values())

    def stable_columns(self) -> tuple[str, ...]:
        """Partition columns a sample keeps: every one but system columns."""
        return tuple(c for c in self.columns if not c.startswith(PREFIX))

    def movable_columns(self, ids: Sequence[str]) -> tuple[str, ...]:
        """Stable partition columns that are not id columns: a write could move a sample across them."""
        return tuple(c for c in self.stable_columns() if c not in ids)


def partitioning_for(
    key: FeatureKey,
    default: Partitioning | None,
    overrides: Mapping[str, Partitioning | None],
) -> Partitioning | None:
    """The layout of ``key``'s table: its override (by ``"a/b"`` key) or the store's."""
    return overrides.get(key.to_string(), default)


def parse_overrides(options: Mapping[str, Any] | None, *, where: str) -> dict[str, Partitioning | None]:
    """Per-feature layouts from ``{"video/raw": {"partition_cols": [...], "time_partitioning": [...]}}``.

    An empty table (``{}``) leaves that feature unpartitioned.

    Raises:
        ConfigError: an entry is not a table or has keys other than the two options.
    """
    parsed: dict[str, Partitioning | None] = {}
    for name, entry in (options or {}).items():
        here = f"{where}, partitioning[{name!r}]"
        if not isinstance(entry, Mapping) or set(entry) - set(_OPTIONS):
            raise ConfigError(
                f"{here}: {entry!r} is not a table of partition_cols and/or time_partitioning.",
                hint='Write e.g. partitioning = {"video/raw" = {partition_cols = ["dataset"]}}.',
            )
        key = FeatureKey(name).to_string()
        parsed[key] = Partitioning.build(*(entry.get(o) for o in _OPTIONS), where=here)
    return parsed


_OPTIONS = ("partition_cols", "time_partitioning", "shard_buckets")


def shard_column(buckets: int) -> str:
    """The name of the column holding a sample's shard of ``buckets``."""
    return f"shard_{buckets}"


def with_shard_column(frame: pl.DataFrame, layout: Partitioning | None, keys: Sequence[str]) -> pl.DataFrame:
    """``frame`` with the shard column of ``layout`` computed from the versioning ``keys`` (kept when
    the frame carries it: rows written back keep their shard)."""
    column = None if layout is None else layout.shard_column
    if column is None or layout is None or layout.shard_buckets is None or column in frame.columns:
        return frame
    if not keys or not all(k in frame.columns for k in keys):
        return frame
    bucket = shard_number(keys) % layout.shard_buckets
    return frame.with_columns(bucket.cast(pl.Int32).alias(column))


def shard_pruning(expr: pl.Expr, partitions: Sequence[str]) -> pl.Expr | None:
    """The partition filter a shard filter becomes on a table partitioned by a shard column whose
    bucket count the shard count divides (None otherwise). Rows without a shard (copied in from
    another store) are always read."""
    if not isinstance(expr, ShardFilter):
        return None
    for name in partitions:
        buckets = _buckets_of(name)
        if buckets is not None and buckets % expr.shard.count == 0:
            column = pl.col(name)
            return (column % expr.shard.count == expr.shard.index) | column.is_null()
    return None


def is_shard_column(name: str) -> bool:
    """Whether ``name`` is a derived shard column (``shard_16``)."""
    return _buckets_of(name) is not None


def _buckets_of(name: str) -> int | None:
    prefix, _, digits = name.partition("_")
    return int(digits) if prefix == "shard" and digits.isdigit() else None


def prunable(exprs: Sequence[pl.Expr], stable: Sequence[str]) -> list[pl.Expr]:
    """The filters of ``exprs`` that name only ``stable`` partition columns (safe before latest-row-wins)."""
    allowed = set(stable)
    found = [e for e in exprs if (names := set(e.meta.root_names())) and names <= allowed]
    return found + [p for e in exprs if (p := shard_pruning(e, stable)) is not None]


def check_no_moves(
    stored: pl.LazyFrame, frame: pl.DataFrame, ids: Sequence[str], columns: Sequence[str], *, where: str
) -> None:
    """Refuse a write that gives a stored sample other values in a partition column.

    Pruned reads rely on it: a sample's rows all lie in one partition, so skipping a partition never
    resurrects an older row of a sample whose latest row lies elsewhere.

    Raises:
        SchemaError: naming a moved sample, the column, and its stored and written values.
    """
    columns = [c for c in columns if c in frame.columns]  # a column left out is written as null
    if not columns or not ids or frame.height == 0:
        return
    wanted = [*ids, *columns]
    incoming = frame.select(wanted).unique().lazy()
    written = {c: f"{c}__written" for c in columns}
    moved = (
        stored.select(wanted)
        .unique()
        .join(incoming.rename(written), on=list(ids), how="inner")
        .filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(w)) for c, w in written.items()))
        .head(1)
        .collect()
    )
    if moved.height:
        row = moved.row(0, named=True)
        sample = {i: row[i] for i in ids}
        column = next(c for c in columns if row[c] != row[written[c]])
        raise SchemaError(
            f"{where}: the write moves sample {sample} from partition {column}={row[column]!r} to "
            f"{column}={row[written[column]]!r}; a sample keeps its partition (pruned reads rely on it).",
            hint="Write the stored partition values again, hard-delete the sample first "
            "(delete_metadata(..., soft=False)), or partition by columns that never change per sample.",
        )


def _time_option(value: Any, *, where: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    pair = tuple(value) if isinstance(value, list | tuple) else None
    if pair is None or len(pair) != 2 or not all(isinstance(v, str) for v in pair):
        raise ConfigError(
            f"{where}: time_partitioning={value!r} is not a (column, grain) pair.",
            hint='Write time_partitioning=("captured_at", "day").',
        )
    source, grain = pair
    if grain not in TIME_GRAINS:
        raise ConfigError(
            f"{where}: time_partitioning grain {grain!r} is not one of {', '.join(TIME_GRAINS)}.",
            hint=f'Write e.g. time_partitioning=("{source}", "day").',
        )
    return source, grain


def _level(source: pl.Expr, level: str) -> pl.Expr:
    dt = source.dt
    return {"year": dt.year(), "month": dt.month(), "day": dt.day(), "hour": dt.hour()}[level]


def _check_carried(
    frame: pl.DataFrame, carried: Sequence[str], levels: Mapping[str, pl.Expr], *, where: str
) -> None:
    differs = frame.select(
        pl.any_horizontal(pl.col(c).cast(pl.Int32).ne_missing(levels[c]) for c in carried).any()
    ).item()
    if differs:
        raise SchemaError(
            f"{where}: column(s) {list(carried)} disagree with the time levels derived from the "
            "time_partitioning column.",
            hint="Leave the derived columns out of the written frame: the store computes them.",
        )
