"""The delta store: `store.py` (the store), `schema.py` (types and schema rules)."""

from __future__ import annotations

from metaxy.stores.delta.store import DeltaMetadataStore

__all__ = ["DeltaMetadataStore"]
