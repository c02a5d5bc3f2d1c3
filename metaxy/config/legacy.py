"""Metaxy 0.1.x's ``metaxy.toml`` layout, read with a :class:`~metaxy.exceptions.MetaxyDeprecationWarning`.

0.1.x names a store class by its import path and nests the constructor options under ``config``::

    [stores.dev]
    type = "metaxy.ext.metadata_stores.duckdb.DuckDBMetadataStore"
    [stores.dev.config]
    database = "dev.duckdb"

This module rewrites that into the current layout (``type = "duckdb"``, options inline, renamed), drops
the 0.1.x settings that have no meaning here, and refuses the ones that would change results.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metaxy.exceptions import ConfigError, MetaxyDeprecationWarning

#: 0.1.x store class name -> (our store kind, renamed constructor options)
STORE_CLASSES: dict[str, tuple[str, dict[str, str]]] = {
    "DuckDBMetadataStore": ("duckdb", {"database": "db_path"}),
    "DeltaMetadataStore": ("delta", {"root_path": "table_uri"}),
    "ClickHouseMetadataStore": ("clickhouse", {"connection_string": "connection_url"}),
    "PostgreSQLMetadataStore": ("sqlalchemy", {"connection_string": "connection_url"}),
    "InMemoryMetadataStore": ("memory", {}),
    "IcebergMetadataStore": ("iceberg", {}),  # warehouse, namespace, catalog_name, catalog_properties
}
#: 0.1.x top-level settings that change nothing here (UI, lock files, table creation is automatic)
IGNORED = frozenset(
    {"auto_create_tables", "theme", "locked", "sync", "metaxy_lock_path", "extra_features", "ext", "extend"}
)


def is_legacy(values: Mapping[str, Any]) -> bool:
    """Whether ``values`` (one file's settings) use the 0.1.x layout."""
    stores = values.get("stores")
    nested = isinstance(stores, Mapping) and any(
        isinstance(s, Mapping)
        and (isinstance(s.get("config"), Mapping) or str(s.get("type", "")).startswith("metaxy.ext."))
        for s in stores.values()
    )
    return nested or bool(IGNORED.intersection(values)) or "enable_map_datatype" in values


def translate(values: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """The current layout of 0.1.x settings read from ``source``; warns once saying what changed."""
    if values.get("enable_map_datatype"):
        raise ConfigError(
            f"{source}: enable_map_datatype = true (Metaxy 0.1.x Map columns) is not supported.",
            hint="Remove it: metaxy stores *_by_field columns as structs, 0.1.x's default.",
        )
    out = {k: v for k, v in values.items() if k not in IGNORED and k != "enable_map_datatype"}
    stores = values.get("stores")
    if isinstance(stores, Mapping):
        out["stores"] = {name: _store(name, dict(s), source) for name, s in stores.items()}
    warnings.warn(
        f"{source} uses the Metaxy 0.1.x configuration layout; it was read as: {_summary(out)}. "
        "Write stores as [stores.NAME] with type = a short name (duckdb, delta, clickhouse, sqlalchemy, "
        "iceberg, memory) and the constructor options inline (docs/configuration.md).",
        MetaxyDeprecationWarning,
        stacklevel=4,
    )
    return out


def _store(name: str, store: dict[str, Any], source: Path) -> dict[str, Any]:
    options = dict(store.pop("config", None) or {})
    kind, renames = _kind(str(store.get("type", "")), name, source)
    options = {renames.get(k, k): v for k, v in options.items()}
    return {**store, **options, "type": kind}


def _kind(type_path: str, name: str, source: Path) -> tuple[str, dict[str, str]]:
    if not type_path.startswith("metaxy.") or ":" in type_path:  # a short name or a module:Class path
        return type_path, {}
    class_name = type_path.rsplit(".", 1)[-1]
    if class_name not in STORE_CLASSES:
        raise ConfigError(
            f"{source}: [stores.{name}] type = {type_path!r} is a Metaxy 0.1.x store with no equivalent here.",
            hint="Use one of: " + ", ".join(kind for kind, _ in STORE_CLASSES.values()) + ".",
        )
    return STORE_CLASSES[class_name]


def _summary(values: Mapping[str, Any]) -> str:
    stores = values.get("stores", {})
    parts = [f"[stores.{n}] type = {s.get('type')!r}" for n, s in stores.items() if isinstance(s, Mapping)]
    return "; ".join(parts) or "no stores"
