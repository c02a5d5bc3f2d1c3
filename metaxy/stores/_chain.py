"""Fallback chains: the order reads fall through stores, with cycles and mixed hash settings refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metaxy.exceptions import FallbackCycleError, HashSettingsMismatchError

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


def walk_chain(store: MetadataStore, path: tuple[MetadataStore, ...] = ()) -> list[MetadataStore]:
    """``store``, then its fallbacks depth-first; a store met again on its own path is a cycle.

    Raises:
        FallbackCycleError: ``store`` is reached again through its own fallbacks.
    """
    if any(seen is store for seen in path):
        names = " -> ".join(s.name for s in (*path, store))
        raise FallbackCycleError(
            f"{store.name} is in its own fallback chain ({names}), so a read would never end.",
            hint="Remove the store from its fallback_stores (directly or through another store's).",
        )
    chain = [store]
    for fallback in store._fallbacks():
        chain.extend(walk_chain(fallback, (*path, store)))
    return chain


def check_hash_settings(store: MetadataStore) -> None:
    """Refuse a chain whose stores hash differently (their versions could never match).

    Raises:
        HashSettingsMismatchError: naming the first fallback with other settings.
    """
    for other in walk_chain(store):
        if other.hash_settings != store.hash_settings:
            raise HashSettingsMismatchError(
                f"{store.name} uses {store.hash_settings} but its fallback {other.name} uses {other.hash_settings}.",
                hint="Every store of a fallback chain must use the same hash_algorithm and hash_truncation_length.",
            )
