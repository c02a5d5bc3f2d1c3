"""Splitting a large PostgreSQL read into parts by ranges of storage blocks, read side by side.

PostgreSQL runs a ``COPY ... TO STDOUT`` (how ADBC reads) on one server process, and ADBC parses its
stream on one client thread: a read of a million rows keeps one core busy on each side whatever the
machine has. A plain read of one table (columns and filters of its rows, nothing computed across rows)
returns the same rows when run once per range of the table's blocks (its ``ctid``) and concatenated,
and since PostgreSQL 14 each range is a TID range scan that touches its own blocks only, so the parts
share the work instead of repeating it. :meth:`ArrowReader.fetch_parts` runs them in one snapshot.
"""

from __future__ import annotations

import os
from itertools import pairwise

import sqlglot.expressions as exp

#: no part is smaller than this many blocks of the table (32 MiB of 8 KiB blocks): a smaller read is
#: over before a second connection's snapshot and thread pay for themselves
MIN_PART_BLOCKS = 4096
#: at most this many parts (and connections) per read, and no more than this machine's cores (each
#: part's stream is parsed on a thread of its own)
MAX_PARTS = min(4, os.cpu_count() or 1)
#: the first release with TID range scans (below it each part would scan the whole table)
TID_RANGE_SCANS = 140000
#: what a read computed across rows, or of several tables, holds (and is then read whole)
_ACROSS_ROWS = (
    exp.AggFunc,
    exp.Window,
    exp.Group,
    exp.Order,
    exp.Limit,
    exp.Distinct,
    exp.Join,
    exp.SetOperation,
)


def plain_table(query: exp.Expr) -> exp.Table | None:
    """The one table ``query`` reads, when it returns the table's rows one for one (columns of each
    row, filters on it); None when it reads several tables or computes across rows (aggregates,
    windows, ordering, limits, distinct rows), whose parts would not add up to the whole."""
    if not isinstance(query, exp.Select) or query.find(*_ACROSS_ROWS) is not None:
        return None
    tables = list(query.find_all(exp.Table))
    return tables[0] if len(tables) == 1 else None


def size_query(table: exp.Table) -> exp.Select:
    """The table's size in bytes now, the server's block size and its version number (``size``,
    ``block``, ``version``)."""
    name = exp.Literal.string(".".join(p.sql(dialect="postgres", identify=True) for p in table.parts))
    size = exp.func("pg_relation_size", exp.func("to_regclass", name))
    block = exp.cast(exp.func("current_setting", exp.Literal.string("block_size")), "bigint")
    version = exp.cast(exp.func("current_setting", exp.Literal.string("server_version_num")), "bigint")
    return exp.select(exp.alias_(size, "size"), exp.alias_(block, "block"), exp.alias_(version, "version"))


def part_count(blocks: int, version: int) -> int:
    """How many parts a read of a table of ``blocks`` blocks is split into on a server of release
    ``version`` (1: read whole)."""
    if version < TID_RANGE_SCANS:
        return 1
    return max(1, min(MAX_PARTS, blocks // MIN_PART_BLOCKS))


def in_parts(query: exp.Select, blocks: int, count: int) -> list[exp.Select]:
    """``query`` (a plain read: see :func:`plain_table`) once per range of its table's first ``blocks``
    blocks, ``count`` ranges, the first open below and the last open above (rows written since the
    size was taken are in it)."""
    edges = [blocks * i // count for i in range(1, count)]
    bounds = [(None, edges[0]), *pairwise(edges), (edges[-1], None)]
    return [_within(query, low, high) for low, high in bounds]


def _within(query: exp.Select, low: int | None, high: int | None) -> exp.Select:
    part = query.copy()
    table = plain_table(part)
    assert table is not None  # in_parts splits plain reads only
    reading = table.find_ancestor(exp.Select)
    assert reading is not None
    ctid = exp.column("ctid", table=table.alias_or_name)
    if low is not None:
        reading.where(exp.GTE(this=ctid.copy(), expression=_block(low)), copy=False)
    if high is not None:
        reading.where(exp.LT(this=ctid.copy(), expression=_block(high)), copy=False)
    return part


def _block(number: int) -> exp.Expr:
    """The first row address of block ``number`` (a ``tid`` literal: plain text, never a parameter)."""
    return exp.cast(exp.Literal.string(f"({int(number)},0)"), exp.DataType.build("tid", udt=True))
