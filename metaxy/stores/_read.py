"""``ReadRequest``: what the ``_read_rows`` primitive is asked for, and the filter helpers reads share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from metaxy.models.keys import FeatureKey

Filters = pl.Expr | Sequence[pl.Expr] | None


@dataclass(frozen=True)
class ReadRequest:
    """One read of stored rows.

    Attributes:
        key: the feature whose rows to read.
        ids: its id columns (needed to pick the latest row per sample).
        feature_version: only rows of this feature version; None reads every version.
        latest: keep the latest row per id (by ``metaxy_updated_at``); False reads the history.
        include_deleted: keep soft-deleted samples (their tombstones included).
        filters: Polars conditions applied last (a filter never resurrects an older row).
    """

    key: FeatureKey
    ids: tuple[str, ...] = ()
    feature_version: str | None = None
    latest: bool = True
    include_deleted: bool = False
    filters: tuple[pl.Expr, ...] = ()

    @classmethod
    def history(cls, key: FeatureKey, feature_version: str | None = None) -> ReadRequest:
        """Every stored row of ``key`` (optionally of one version), tombstones included."""
        return cls(key, feature_version=feature_version, latest=False, include_deleted=True)


def as_filters(filters: Filters) -> tuple[pl.Expr, ...]:
    """``filters`` as a tuple of expressions (None: none)."""
    if filters is None:
        return ()
    if isinstance(filters, pl.Expr):
        return (filters,)
    return tuple(filters)


def all_of(exprs: Sequence[pl.Expr]) -> pl.Expr | None:
    """The conjunction of ``exprs`` (None when empty)."""
    if not exprs:
        return None
    combined = exprs[0]
    for expr in exprs[1:]:
        combined = combined & expr
    return combined
