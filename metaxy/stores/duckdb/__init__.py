"""The duckdb store: `store.py` (the store), `schema.py` (types and schema rules)."""

from __future__ import annotations

from metaxy.stores.duckdb.store import DuckDBMetadataStore

__all__ = ["DuckDBMetadataStore"]
