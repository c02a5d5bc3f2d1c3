"""The sqlalchemy store: `store.py` (the store), `schema.py` (types and schema rules)."""

from __future__ import annotations

from metaxy.stores.sqlalchemy.store import SQLAlchemyMetadataStore

__all__ = ["SQLAlchemyMetadataStore"]
