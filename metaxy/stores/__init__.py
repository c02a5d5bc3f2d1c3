"""Metadata stores: the shared contract and one module per backend (drivers imported lazily)."""

from __future__ import annotations

from metaxy.stores.base import MetadataStore
from metaxy.stores.memory import InMemoryMetadataStore

__all__ = ["InMemoryMetadataStore", "MetadataStore"]
