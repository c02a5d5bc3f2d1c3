"""Materialization catalogs: an optional index of what each store has materialized.

``PostgresCatalog`` imports its driver (psycopg) only when it first connects.
"""

from __future__ import annotations

from metaxy.catalog.base import MaterializationCatalog
from metaxy.catalog.memory import InMemoryCatalog
from metaxy.catalog.postgres import PostgresCatalog
from metaxy.catalog.records import MaterializationRecord
from metaxy.catalog.sqlite import SQLiteCatalog

__all__ = [
    "InMemoryCatalog",
    "MaterializationCatalog",
    "MaterializationRecord",
    "PostgresCatalog",
    "SQLiteCatalog",
]
