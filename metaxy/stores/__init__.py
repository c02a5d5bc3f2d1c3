"""Metadata stores: the shared contract, one folder per backend, wrappers, the backend table.

Store classes are imported on first attribute access, so ``import metaxy`` never loads a driver; the
names come from the backend table (:mod:`metaxy.stores.backends`), typed for checkers through it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from metaxy.stores import backends
from metaxy.stores._failures import RetryPolicy
from metaxy.stores.base import MetadataStore

if TYPE_CHECKING:  # every store class of the backend table, typed precisely (backends.__all__)
    from metaxy.stores.backends import *  # noqa: F403

#: public store class -> module defining it (imported on first use), from the backend table
LAZY_STORES: dict[str, str] = {b.class_name: b.module for b in backends.BACKENDS}

__all__ = ["MetadataStore", "RetryPolicy"]
__all__ += backends.__all__
__all__.sort()


def __getattr__(name: str) -> Any:
    module = LAZY_STORES.get(name)
    if module is None:
        raise AttributeError(f"module 'metaxy.stores' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
