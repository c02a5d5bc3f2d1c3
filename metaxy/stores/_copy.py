"""Copying stored rows between stores: the one implementation behind ``copy_metadata``.

A copied row keeps its system columns, so a row of the source that the target already holds (same
ids and same system columns) is recognised and skipped: copying twice appends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import polars as pl

from metaxy.constants import (
    DATA_VERSION,
    DELETED_AT,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROVENANCE,
    UPDATED_AT,
)
from metaxy.exceptions import StoreError
from metaxy.models.feature import resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores._failures import copy_errors, features_with_errors
from metaxy.stores._read import ReadRequest

if TYPE_CHECKING:
    from metaxy.stores.base import FeatureLike, MetadataStore

#: the system columns that identify a stored row (besides the sample's ids)
ROW_IDENTITY = (FEATURE_VERSION, PROVENANCE, DATA_VERSION, UPDATED_AT, DELETED_AT, MATERIALIZATION_ID)
_IN_MEMORY = (":memory:", "memory://")


def copy_rows(
    target: MetadataStore,
    source: MetadataStore,
    features: Iterable[FeatureLike] | None,
    *,
    history: bool,
) -> dict[FeatureKey, int]:
    """Append to ``target`` the rows of ``source`` it does not hold yet; rows appended per feature."""
    refuse_same_store(source, target)
    graph = FeatureGraph.get_active()
    keys = source.list_features() if features is None else [resolve_feature(f)[0] for f in features]
    copied: dict[FeatureKey, int] = {}
    for key in keys:
        known = key in graph
        ids = tuple(graph.spec(key).id_columns) if known else ()
        full = history or not known  # ids unknown: the stored history is copied as it is
        rows = source._read_rows(ReadRequest(key, ids, latest=not full, include_deleted=full))
        frame = _not_held(target, key, ids, pl.DataFrame() if rows is None else rows.collect())
        if frame.height:
            target._append_registered(key, frame)
        copied[key] = frame.height
    failing = features_with_errors(source) if features is None else keys
    for key in dict.fromkeys([*keys, *failing]):  # failed attempts travel with their feature
        copy_errors(target, source, key)
    return copied


def _not_held(
    target: MetadataStore, key: FeatureKey, ids: tuple[str, ...], frame: pl.DataFrame
) -> pl.DataFrame:
    """The rows of ``frame`` that ``target`` does not already store (matched on ids + system columns)."""
    stored = target._read_rows(ReadRequest.history(key)) if frame.height else None
    if stored is None:
        return frame
    on = [c for c in (*ids, *ROW_IDENTITY) if c in frame.columns and c in stored.collect_schema()]
    held = stored.select(on).collect()
    if held.height == 0 or not on:
        return frame
    held = held.with_columns(held[c].cast(frame.schema[c]) for c in on)
    return frame.join(held, on=on, how="anti", nulls_equal=True)


def refuse_same_store(source: MetadataStore, target: MetadataStore) -> None:
    """Raise when ``source`` and ``target`` are one store (the same object, or the same location)."""
    a, b = _unwrapped(source), _unwrapped(target)
    same_place = (
        type(a) is type(b)
        and a.location == b.location
        and not (
            a.location == "sqlite://" or any(m in a.location for m in _IN_MEMORY)
        )  # in-memory stores: only the same object
        and getattr(a, "table_prefix", None) == getattr(b, "table_prefix", None)
    )
    if a is b or same_place:
        raise StoreError(
            f"Cannot copy metadata from {source.name} into itself ({target.name} is the same store, "
            f"at {b.location}).",
            hint="Copy between two different stores, e.g. `metaxy metadata copy --from dev --to prod`.",
        )


def _unwrapped(store: MetadataStore) -> MetadataStore:
    inner = getattr(store, "inner", None)
    return _unwrapped(inner) if inner is not None else store
