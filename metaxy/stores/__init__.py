"""Metadata stores: the shared contract, one folder per backend, wrappers, the backend table.

Backend classes are imported on first attribute access, so ``import metaxy`` never loads a driver.
"""

from __future__ import annotations

import importlib
from typing import Any

from metaxy.stores.backends import BACKENDS
from metaxy.stores.base import MetadataStore
from metaxy.stores.memory import InMemoryMetadataStore

#: public store class -> module defining it (imported lazily), from the backend table
LAZY_STORES: dict[str, str] = {b.class_name: b.module for b in BACKENDS if b.kind != "memory"}

__all__ = [
    "CachedMetadataStore",
    "ClickHouseMetadataStore",
    "DeltaMetadataStore",
    "DuckDBMetadataStore",
    "InMemoryMetadataStore",
    "InstrumentedMetadataStore",
    "MetadataStore",
    "SQLAlchemyMetadataStore",
]  # the LAZY_STORES names are listed literally too


def __getattr__(name: str) -> Any:
    module = LAZY_STORES.get(name)
    if module is None:
        raise AttributeError(f"module 'metaxy.stores' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
