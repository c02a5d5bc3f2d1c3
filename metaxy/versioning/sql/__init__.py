"""SQL generation for the native versioning engine: dialects, filter pushdown, the resolution query.

Pure sqlglot: nothing here imports a driver or a store.
"""

from __future__ import annotations

from metaxy.versioning.sql.dialects import (
    ClickHouseDialect,
    DuckDBDialect,
    PostgresDialect,
    SQLDialect,
    SQLiteDialect,
    get_dialect,
)
from metaxy.versioning.sql.engine import SQLEngine, SQLTable
from metaxy.versioning.sql.pushdown import split_filters, to_sql_condition

__all__ = [
    "ClickHouseDialect",
    "DuckDBDialect",
    "PostgresDialect",
    "SQLDialect",
    "SQLEngine",
    "SQLTable",
    "SQLiteDialect",
    "get_dialect",
    "split_filters",
    "to_sql_condition",
]
