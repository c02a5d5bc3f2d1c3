"""``ReadRequest``: what the ``_read_rows`` primitive is asked for, and the filter helpers reads share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from metaxy.exceptions import FeatureNotFoundError
from metaxy.models.keys import FeatureKey
from metaxy.models.spec import FeatureSpec
from metaxy.stores._empty import conform_empty, is_marked_empty

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

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


def read_first(stores: Sequence[MetadataStore], request: ReadRequest, spec: FeatureSpec) -> pl.LazyFrame:
    """``request`` answered by the first of ``stores`` that materialized the feature (at its version).

    Raises:
        FeatureNotFoundError: none of ``stores`` did.
    """
    key, version = request.key, request.feature_version
    for store in stores:
        holds = store._holds(key, version)
        if holds or is_marked_empty(store, key, version):
            lf = store._read_rows(request)
            return lf if holds and lf is not None else conform_empty(lf, spec)  # an empty write
    raise FeatureNotFoundError(
        f"No metadata for feature {key.to_string()!r}"
        + (f" at feature version {version}" if version else "")
        + f" in: {', '.join(s.name for s in stores)}.",
        hint="Write it first (write_metadata) or read another version with feature_version=/all_versions=True.",
    )
