"""Latest-row-wins over an append-only history: the latest stored row per id by ``metaxy_updated_at``.

Two forms of one rule (append order breaks timestamp ties in both): ``latest_rows`` builds it into a lazy
plan; ``pick_latest`` runs it on rows already fetched, where it can look at the data first and skip the
work a typical history does not need (sorting rows appended in time order, picking among unique ids).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from metaxy.constants import UPDATED_AT


def latest_rows(lf: pl.LazyFrame, ids: Sequence[str]) -> pl.LazyFrame:
    """Keep the latest row per id of a lazy history.

    A stable sort followed by ``is_last_distinct`` is an order of magnitude faster than
    ``unique(keep="last")`` here: the latter hashes every column it carries (structs included).
    """
    id_list = list(ids)
    if not id_list:  # no id columns known: whole rows identify a sample
        return lf.sort(UPDATED_AT, maintain_order=True).unique(keep="last", maintain_order=True)
    last = pl.col(id_list[0]) if len(id_list) == 1 else pl.struct(id_list)
    return lf.sort(UPDATED_AT, maintain_order=True).filter(last.is_last_distinct())


def pick_latest(frame: pl.DataFrame, ids: Sequence[str]) -> pl.DataFrame:
    """Keep the latest row per id of fetched rows; the rows come back unchanged when every id occurs once.

    Ids that rise strictly row after row (a table written once, in id order) are unique: nothing to
    pick. Rows stored in time order (the usual case: one timestamp per append) need no sort by time first.
    A single integer id column is sorted rather than hashed (several times faster, measured at 2M rows):
    a stable sort by id keeps each id's rows in time order, so the last row of every run of equal ids
    is the one to keep. Other ids (strings, several columns) hash faster than they sort.
    """
    id_list = list(ids)
    if not id_list or frame.height < 2:
        return latest_rows(frame.lazy(), id_list).collect() if frame.height > 1 else frame
    if len(id_list) == 1 and _strictly_increasing(frame.get_column(id_list[0])):
        return frame  # unique ids (a table written once, in id order): nothing to pick
    ordered = frame if frame[UPDATED_AT].is_sorted() else frame.sort(UPDATED_AT, maintain_order=True)
    if len(id_list) == 1 and ordered.schema[id_list[0]].is_integer():
        id_values = ordered.get_column(id_list[0]).rechunk()  # frames from Arrow come in many chunks
        by_id = id_values.to_frame().select(pl.arg_sort_by(id_list, maintain_order=True)).to_series()
        sorted_ids = id_values.gather(by_id)
        keep = by_id.filter(sorted_ids.ne_missing(sorted_ids.shift(-1)))
        if keep.len() == ordered.height:
            return ordered
        # a mask keeps storage order and, unlike a gather, stays cheap on many-chunk frames from Arrow
        return ordered.filter(pl.zeros(ordered.height, pl.Boolean, eager=True).scatter(keep, True))
    key = pl.col(id_list[0]) if len(id_list) == 1 else pl.struct(id_list)
    last = ordered.select(key.is_last_distinct()).to_series()
    return ordered if last.all() else ordered.filter(last)


def ids_unique(frame: pl.DataFrame, ids: Sequence[str]) -> bool:
    """Whether no id of ``frame`` occurs twice (its rows are then their own latest rows)."""
    id_list = list(ids)
    if len(id_list) == 1 and _strictly_increasing(frame.get_column(id_list[0])):
        return True
    return not frame.select(id_list).is_duplicated().any()


def _strictly_increasing(ids: pl.Series) -> bool:
    """Whether ``ids`` (numbers or strings) rise strictly, row after row: then each occurs once.

    A pass over the values (~2 ms for 1M integers) that spares the sort or hash of a pick.
    """
    if ids.len() < 2:
        return ids.null_count() == 0  # nothing to compare (and no slice of length -1)
    if not (ids.dtype.is_numeric() or ids.dtype == pl.String) or ids.null_count():
        return False
    values = ids.rechunk()  # comparing two slices of a many-chunk column would realign them first
    return bool((values.slice(1) > values.slice(0, values.len() - 1)).all())
