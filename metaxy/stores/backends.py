"""The one table of store kinds: short name -> public class -> module -> pip extra.

``metaxy`` and ``metaxy.stores`` export every class of the table (imported lazily, on first use), the
configuration resolves ``type = "..."`` from it, the tests build a scratch store of each; adding a
backend adds its row here, plus its class to the typed exports at the end (see docs/contributing.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metaxy.exceptions import VersioningError

if TYPE_CHECKING:
    from metaxy.versioning.sql.dialects import SQLDialect


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
    Backend("iceberg", "IcebergMetadataStore", "metaxy.stores.iceberg", "iceberg"),
    Backend("clickhouse", "ClickHouseMetadataStore", "metaxy.stores.clickhouse", "clickhouse"),
    Backend("sqlalchemy", "SQLAlchemyMetadataStore", "metaxy.stores.sqlalchemy", "sqlalchemy"),
    Backend("spark", "SparkMetadataStore", "metaxy.stores.spark", "spark"),
    Backend("cached", "CachedMetadataStore", "metaxy.stores.wrappers.cached", None),
    Backend("instrumented", "InstrumentedMetadataStore", "metaxy.stores.wrappers.instrumented", None),
    Backend("encrypted", "EncryptedMetadataStore", "metaxy.stores.wrappers.encrypted", "crypto"),
    Backend("secure", "SecureMetadataStore", "metaxy.stores.wrappers.secure", None),
)

#: wrapper kinds: built around another store in code, not named as a ``type`` in configuration
WRAPPER_KINDS = frozenset({"cached", "instrumented", "encrypted", "secure"})


def backend_named(kind: str) -> Backend | None:
    """The row for a configuration ``type`` (wrappers excluded), or ``None``."""
    for backend in BACKENDS:
        if backend.kind == kind and kind not in WRAPPER_KINDS:
            return backend
    return None


def store_kinds() -> list[str]:
    """The ``type`` names configuration accepts, besides import paths."""
    return [b.kind for b in BACKENDS if b.kind not in WRAPPER_KINDS]


def sql_dialects() -> dict[str, type[SQLDialect]]:
    """Every SQL dialect of the table's backends, by name: the dialect classes each backend folder's
    ``schema.py`` defines (importing them needs sqlglot, never a driver)."""
    from metaxy.versioning.sql.dialects import SQLDialect

    found: dict[str, type[SQLDialect]] = {}
    for backend in BACKENDS:
        if not hasattr(importlib.import_module(backend.module), "__path__"):
            continue  # a module, not a backend folder (the in-memory store, wrappers)
        schema = importlib.import_module(f"{backend.module}.schema")
        for value in vars(schema).values():
            if (
                isinstance(value, type)
                and issubclass(value, SQLDialect)
                and value.__module__ == schema.__name__
            ):
                found[value.name] = value
    return found


def sql_dialect(name: str) -> SQLDialect:
    """The SQL dialect named ``name`` (``"duckdb"``, ``"clickhouse"``, ``"postgres"``, ``"sqlite"``, ...).

    Raises:
        VersioningError: no backend of the table defines it.
    """
    dialects = sql_dialects()
    try:
        return dialects[name.lower()]()
    except KeyError:
        raise VersioningError(
            f"No SQL dialect named {name!r}.", hint="Use one of: " + ", ".join(sorted(dialects)) + "."
        ) from None


# -- the typed exports: the facades re-export these names (``__all__ += backends.__all__``), so type
# checkers see each class precisely while the runtime imports it on first use through BACKENDS
if TYPE_CHECKING:
    from metaxy.stores.clickhouse import ClickHouseMetadataStore
    from metaxy.stores.delta import DeltaMetadataStore
    from metaxy.stores.duckdb import DuckDBMetadataStore
    from metaxy.stores.iceberg import IcebergMetadataStore
    from metaxy.stores.memory import InMemoryMetadataStore
    from metaxy.stores.spark import SparkMetadataStore
    from metaxy.stores.sqlalchemy import SQLAlchemyMetadataStore
    from metaxy.stores.wrappers.cached import CachedMetadataStore
    from metaxy.stores.wrappers.encrypted import EncryptedMetadataStore
    from metaxy.stores.wrappers.instrumented import InstrumentedMetadataStore
    from metaxy.stores.wrappers.secure import SecureMetadataStore

__all__ = [
    "CachedMetadataStore",
    "ClickHouseMetadataStore",
    "DeltaMetadataStore",
    "DuckDBMetadataStore",
    "EncryptedMetadataStore",
    "IcebergMetadataStore",
    "InMemoryMetadataStore",
    "InstrumentedMetadataStore",
    "SQLAlchemyMetadataStore",
    "SecureMetadataStore",
    "SparkMetadataStore",
]
