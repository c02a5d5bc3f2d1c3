"""The Iceberg store: `store.py` (the store), `schema.py` (types, partition transforms, filter translation)."""

from __future__ import annotations

from metaxy.stores.iceberg.store import IcebergMetadataStore

__all__ = ["IcebergMetadataStore"]
