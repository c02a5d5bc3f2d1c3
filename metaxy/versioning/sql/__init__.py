"""SQL generation for the native versioning engine: the dialect contract, filter pushdown, the
resolution query.

Pure sqlglot: nothing here imports a driver or a store. Each SQL backend's dialect lives in its own
folder (``metaxy/stores/<kind>/schema.py``) and its store hands it to :class:`SQLEngine`.
"""

from __future__ import annotations

from metaxy.versioning.sql.dialects import SQLDialect
from metaxy.versioning.sql.engine import SQLEngine, SQLTable
from metaxy.versioning.sql.pushdown import split_filters, to_sql_condition

__all__ = [
    "SQLDialect",
    "SQLEngine",
    "SQLTable",
    "split_filters",
    "to_sql_condition",
]
