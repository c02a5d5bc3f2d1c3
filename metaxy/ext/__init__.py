"""Metaxy 0.1.x imported its stores from ``metaxy.ext.*``; here every store is importable from ``metaxy``.

Importing anything under ``metaxy.ext`` raises :class:`~metaxy.exceptions.LegacyImportError` (an
``ImportError``) naming the replacement and the renamed constructor arguments.
"""

from __future__ import annotations

from metaxy.exceptions import LegacyImportError

REPLACEMENTS = (
    "DuckDBMetadataStore(database=...) -> mx.DuckDBMetadataStore(db_path, ...)",
    "DeltaMetadataStore(root_path=...) -> mx.DeltaMetadataStore(table_uri, ...)",
    "ClickHouseMetadataStore(connection_string=...) -> mx.ClickHouseMetadataStore(connection_url, ...)",
    "PostgreSQLMetadataStore(connection_string=...) -> "
    "mx.SQLAlchemyMetadataStore('postgresql+psycopg://...', ...)",
    "IcebergMetadataStore(warehouse=...) -> mx.IcebergMetadataStore(warehouse, ...)",
)


raise LegacyImportError(
    "metaxy.ext is the Metaxy 0.1.x home of the stores; it does not exist here.",
    hint="Import stores from metaxy (import metaxy as mx): " + "; ".join(REPLACEMENTS) + ".",
)
