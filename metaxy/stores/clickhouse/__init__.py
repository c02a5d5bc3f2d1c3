"""The clickhouse store: `store.py` (the store), `schema.py` (types and DDL), `connection.py` (chdb or clickhouse-connect)."""

from __future__ import annotations

from metaxy.stores.clickhouse.store import ClickHouseMetadataStore

__all__ = ["ClickHouseMetadataStore"]
