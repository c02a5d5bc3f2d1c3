"""The one table of store kinds: short name -> public class -> module -> pip extra.

``metaxy.stores`` resolves its lazy exports from it and the configuration resolves ``type = "..."``
from it; adding a backend adds one row here (see docs/contributing.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """One store class: how configuration names it, where it lives, what to install for it."""

    kind: str
    class_name: str
    module: str
    extra: str | None


#: every store class metaxy ships, backends first, then wrappers (which take another store)
BACKENDS: tuple[Backend, ...] = (
    Backend("memory", "InMemoryMetadataStore", "metaxy.stores.memory", None),
    Backend("duckdb", "DuckDBMetadataStore", "metaxy.stores.duckdb", "duckdb"),
    Backend("delta", "DeltaMetadataStore", "metaxy.stores.delta", "delta"),
    Backend("clickhouse", "ClickHouseMetadataStore", "metaxy.stores.clickhouse", "clickhouse"),
    Backend("sqlalchemy", "SQLAlchemyMetadataStore", "metaxy.stores.sqlalchemy", "sqlalchemy"),
    Backend("cached", "CachedMetadataStore", "metaxy.stores.wrappers.cached", None),
    Backend("instrumented", "InstrumentedMetadataStore", "metaxy.stores.wrappers.instrumented", None),
)

#: wrapper kinds: built around another store in code, not named as a ``type`` in configuration
WRAPPER_KINDS = frozenset({"cached", "instrumented"})


def backend_named(kind: str) -> Backend | None:
    """The row for a configuration ``type`` (wrappers excluded), or ``None``."""
    for backend in BACKENDS:
        if backend.kind == kind and kind not in WRAPPER_KINDS:
            return backend
    return None


def store_kinds() -> list[str]:
    """The ``type`` names configuration accepts, besides import paths."""
    return [b.kind for b in BACKENDS if b.kind not in WRAPPER_KINDS]
