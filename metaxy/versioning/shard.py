"""The shard rule: which of ``n`` shards a sample belongs to, the same in Polars and in every SQL store.

A sample's **shard key** is the text of its versioning keys (the id columns; under expansion the
lineage's ``on`` columns, so a parent and its children land together): each value as text (integers
in decimal, strings as they are, null as ``""``), joined with ``"|"``. Its shard is the first 8 hex
digits of the MD5 of that text's UTF-8 bytes, read as an unsigned 32-bit integer, modulo ``n``.
Every engine computes exactly this (:func:`shard_of` is the reference; a golden test ties the Polars
expression and each SQL dialect to it), so a shard read from any store holds the same samples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import polars as pl
import polars_hash  # noqa: F401  (registers the .nchash expression namespace)

from metaxy.exceptions import InvalidShardError
from metaxy.versioning.hashing import SEPARATOR

#: hex digits of the MD5 the shard number is read from (32 bits: exact in every engine's BIGINT)
HEX_DIGITS = 8


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``)."""

    index: int
    count: int

    @classmethod
    def coerce(cls, value: Any, *, where: str = "shard") -> Shard:
        """A ``Shard`` from a ``Shard`` or an ``(index, count)`` pair.

        Raises:
            InvalidShardError: ``value`` is not such a pair of integers, ``count < 1`` or ``index`` is
                outside ``[0, count)``.
        """
        if isinstance(value, Shard):
            return value
        pair = tuple(value) if isinstance(value, list | tuple) else None
        if pair is None or len(pair) != 2 or not all(_is_int(v) for v in pair):
            raise InvalidShardError(
                f"{where}: shard={value!r} is not an (index, count) pair of integers.",
                hint="Pass shard=(i, n) with 0 <= i < n, e.g. shard=(0, 4) for the first of four shards.",
            )
        index, count = int(pair[0]), int(pair[1])
        if count < 1:
            raise InvalidShardError(
                f"{where}: shard={value!r} asks for {count} shards.",
                hint="The shard count n of shard=(i, n) must be at least 1.",
            )
        if not 0 <= index < count:
            raise InvalidShardError(
                f"{where}: shard index {index} is outside 0..{count - 1} (shard={value!r}).",
                hint=f"Shards of {count} are numbered 0 to {count - 1}.",
            )
        return cls(index, count)

    def __str__(self) -> str:
        return f"shard {self.index} of {self.count}"


class ShardFilter(pl.Expr):
    """The Polars filter selecting one shard, remembering what it selects.

    It filters like any expression; SQL stores recognise it and push the same rule down
    (:meth:`metaxy.versioning.sql.SQLDialect.shard_condition`) instead of running it locally.
    """

    shard: Shard
    columns: tuple[str, ...]


def shard_number(columns: Sequence[str]) -> pl.Expr:
    """The unsigned 32-bit number of the shard key of ``columns`` (its shard of ``n`` is this mod ``n``)."""
    key = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator=SEPARATOR)
    return key.nchash.md5().str.slice(0, HEX_DIGITS).str.to_integer(base=16)  # type: ignore[attr-defined,no-any-return]


def shard_filter(shard: Shard, columns: Sequence[str]) -> ShardFilter:
    """The filter keeping the rows of ``shard`` by the shard key of ``columns``."""
    expr = shard_number(columns) % shard.count == shard.index
    selected = cast(ShardFilter, ShardFilter._from_pyexpr(expr._pyexpr))
    selected.shard = shard
    selected.columns = tuple(columns)
    return selected


def shard_of(values: Sequence[Any], count: int) -> int:
    """The shard (of ``count``) of one sample given its key values: the reference implementation."""
    text = SEPARATOR.join("" if v is None else str(v) for v in values)
    return int(hashlib.md5(text.encode()).hexdigest()[:HEX_DIGITS], 16) % count


def check_shard_columns(schema: pl.Schema, columns: Sequence[str], *, where: str) -> None:
    """Refuse shard key columns whose text form is not the same in every engine.

    Raises:
        InvalidShardError: a column is neither an integer nor a string column.
    """
    for name in columns:
        dtype = schema.get(name)
        if dtype is not None and not (dtype.is_integer() or dtype == pl.String):
            raise InvalidShardError(
                f"{where}: shard key column {name!r} is {dtype}; shards are defined on integer and "
                "string columns only (their text is the same in Polars and every SQL database).",
                hint="Shard with filters on your own column instead, or use integer or string id columns.",
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
