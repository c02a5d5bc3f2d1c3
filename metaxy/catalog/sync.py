"""Rebuild a store's catalog records from what the store actually holds (adoption, or after drift)."""

from __future__ import annotations

import polars as pl

from metaxy.catalog.base import MaterializationCatalog
from metaxy.constants import DELETED_AT, MATERIALIZATION_ID, UPDATED_AT
from metaxy.exceptions import CatalogError
from metaxy.stores.base import MetadataStore


def sync_catalog(store: MetadataStore, catalog: MaterializationCatalog | None = None) -> int:
    """Replace ``store``'s records in ``catalog`` (default: the store's own) with one per stored write.

    A write is the set of rows sharing a ``metaxy_materialization_id``; tombstones (soft deletes)
    are not writes. Returns the number of writes registered.

    Raises:
        CatalogError: no catalog given and the store has none.
    """
    catalog = catalog if catalog is not None else _own(store)
    store.require_open()
    writes = 0
    for key in store.list_features():
        catalog.forget_materialization(key, store=store.name)
        rows = store._scan(key)
        if rows is None:
            continue
        frame = rows.filter(pl.col(DELETED_AT).is_null()).sort(UPDATED_AT).collect()
        for _, write in frame.group_by(MATERIALIZATION_ID, maintain_order=True):
            catalog.register_materialization(key, write, store=store.name)
            writes += 1
    return writes


def _own(store: MetadataStore) -> MaterializationCatalog:
    if not isinstance(store.catalog, MaterializationCatalog):
        raise CatalogError(
            f"{store.name} has no materialization catalog to sync.",
            hint="Pass one: sync_catalog(store, catalog), or build the store with catalog=.",
        )
    return store.catalog
