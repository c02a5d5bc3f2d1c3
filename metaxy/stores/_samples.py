"""Choosing stored rows by an id frame (``delete_metadata(feature, samples=increment.orphaned)``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from metaxy.exceptions import SchemaError
from metaxy.versioning.frames import to_polars


def samples_filter(
    samples: Any, ids: Sequence[str], *, stored: pl.Schema | None = None, where: str
) -> pl.Expr | None:
    """A condition true for rows whose ids appear in ``samples``; ``None`` when ``samples`` is empty.

    Rows match on the id columns ``samples`` carries: all of them, or a subset, as in the
    ``orphaned`` frame of an expansion (one row per parent key), which then matches every child.
    Ids of another numeric type than the ``stored`` one are cast to it.

    Raises:
        SchemaError: ``samples`` carries none of the id columns, or an id column of a type that cannot
            be compared with the stored one (strings for integers, ...).
    """
    frame = to_polars(samples, where=where)
    on = [c for c in ids if c in frame.columns]
    if not on:
        raise SchemaError(
            f"{where}: samples= has none of the id columns {list(ids)} (it has {frame.columns}).",
            hint="Pass a frame of ids, e.g. resolve_update(...).orphaned.",
        )
    keys = _as_stored(frame.select(on), stored, where=where).unique(maintain_order=True)
    if keys.height == 0:
        return None
    if len(on) == 1:
        return pl.col(on[0]).is_in(keys[on[0]].to_list())
    return _any_of([_all_equal(row) for row in keys.iter_rows(named=True)])


def _as_stored(keys: pl.DataFrame, stored: pl.Schema | None, *, where: str) -> pl.DataFrame:
    """``keys`` with each id column in its stored type (numbers are cast; anything else must match)."""
    if stored is None:
        return keys
    for name, dtype in keys.schema.items():
        target = stored.get(name)
        if target is None or dtype == target or dtype == pl.Null:
            continue
        if dtype.is_numeric() and target.is_numeric():
            try:
                keys = keys.with_columns(pl.col(name).cast(target, strict=True))
                continue
            except pl.exceptions.InvalidOperationError:
                pass  # a value the stored type cannot hold: refused below
        raise SchemaError(
            f"{where}: samples= column {name!r} is {dtype}, but the stored ids are {target}.",
            hint=f"Cast the id column to the stored type first, e.g. pl.col({name!r}).cast(pl.{target}).",
        )
    return keys


def _all_equal(row: dict[str, Any]) -> pl.Expr:
    conditions = [pl.col(name) == pl.lit(value) for name, value in row.items()]
    return _balanced(conditions, lambda a, b: a & b)


def _any_of(conditions: list[pl.Expr]) -> pl.Expr:
    return _balanced(conditions, lambda a, b: a | b)


def _balanced(items: list[pl.Expr], combine: Any) -> pl.Expr:
    """Combine pairwise as a balanced tree: its depth grows with log(n), not n."""
    while len(items) > 1:
        paired = [combine(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        items = paired + ([items[-1]] if len(items) % 2 else [])
    return items[0]
