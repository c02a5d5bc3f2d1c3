"""Deleting stored samples: soft (tombstone rows appended) or hard (rows physically removed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from metaxy.constants import DELETED_AT, FEATURE_VERSION, UPDATED_AT
from metaxy.models.keys import FeatureKey
from metaxy.stores._empty import forget_empty
from metaxy.stores._read import ReadRequest, all_of
from metaxy.stores.schema_rule import TIMESTAMP

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


def soft_delete(store: MetadataStore, key: FeatureKey, ids: Sequence[str], exprs: Sequence[pl.Expr]) -> int:
    """Append a tombstone for each live sample matching ``exprs``; returns how many samples."""
    latest = store._read_rows(ReadRequest(key, tuple(ids), filters=tuple(exprs)))
    if latest is None:
        return 0
    now = store._now()
    tombstones = latest.with_columns(
        pl.lit(now, dtype=TIMESTAMP).alias(DELETED_AT), pl.lit(now, dtype=TIMESTAMP).alias(UPDATED_AT)
    ).collect()
    if tombstones.height:
        store._append(key, tombstones)
    return tombstones.height


def hard_delete(store: MetadataStore, key: FeatureKey, exprs: Sequence[pl.Expr]) -> int:
    """Remove every stored row matching ``exprs`` (all rows, any version, when empty); returns how many.

    Feature versions left with no row are forgotten by the store's catalog, and a delete of every
    row forgets the feature's empty materializations too.
    """
    before = store._count(key)
    versions = _stored_versions(store, key) if store.catalog is not None else set()
    store._delete_rows(key, all_of(exprs))
    if not exprs:
        forget_empty(store, key)
        claims = getattr(store, "_claims", None)  # SQL stores: the emptied table is free for any key
        if claims is not None:
            claims.release(key)
    if store.catalog is not None:
        gone = versions - _stored_versions(store, key)
        store.catalog.forget_materialization(key, feature_versions=gone, store=store.name)
    return before - store._count(key)


def _stored_versions(store: MetadataStore, key: FeatureKey) -> set[str]:
    lf = store._scan(key)
    return set() if lf is None else set(lf.select(pl.col(FEATURE_VERSION).unique()).collect().to_series())
