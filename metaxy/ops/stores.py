"""The project's configured stores: where each lives and whether it exists, without creating any."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metaxy.config.settings import MetaxyConfig
from metaxy.exceptions import CatalogNotFoundError, StoreNotFoundError
from metaxy.stores.base import MetadataStore
from metaxy.stores.registry import store_from_config


@dataclass(frozen=True)
class StoreInfo:
    """One configured store: its name, ``type``, resolved location and whether that exists."""

    name: str
    type: str
    location: str
    exists: bool
    is_default: bool
    fallback_stores: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "location": self.location,
            "exists": self.exists,
            "default": self.is_default,
            "fallback_stores": list(self.fallback_stores),
        }


def describe_stores(config: MetaxyConfig) -> list[StoreInfo]:
    """Every store of ``config``, in configuration order; nothing is opened or created."""
    default = config.store or (next(iter(config.stores)) if len(config.stores) == 1 else None)
    infos = []
    for name, settings in config.stores.items():
        store = store_from_config(config, name, read_only=True)
        infos.append(
            StoreInfo(
                name=name,
                type=settings.type,
                location=store.location,
                exists=store.exists(),
                is_default=name == default,
                fallback_stores=settings.fallback_stores,
            )
        )
    return infos


def require_existing(store: MetadataStore) -> MetadataStore:
    """Return ``store`` if every store of its fallback chain, and its catalog, exist; else raise naming
    the missing one.

    Read-only tools call this before opening a store, so that a wrong path or working directory is
    reported instead of silently reading (or creating) an empty store or catalog.

    Raises:
        StoreNotFoundError: a store of the chain has no data at its location.
        CatalogNotFoundError: the catalog (one that can tell, like ``SQLiteCatalog``) does not exist.
    """
    for member in store.fallback_chain():
        if not member.exists():
            raise StoreNotFoundError(
                f"Store {member.name!r} does not exist at {member.location}.",
                hint="Nothing was written to it yet, or the path is wrong: relative paths in the config "
                "resolve against the config file's folder. `metaxy stores` lists every store's location.",
            )
    catalog = store.catalog
    exists = getattr(catalog, "exists", None)
    if callable(exists) and not exists():
        raise CatalogNotFoundError(
            f"Catalog {getattr(catalog, 'location', catalog)} does not exist.",
            hint="Nothing was written through it yet, or its path is wrong: relative paths in the config "
            "resolve against the config file's folder.",
        )
    return store
