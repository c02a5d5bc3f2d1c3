"""Copy stored metadata from one store into another (idempotent; a store never into itself)."""

from __future__ import annotations

from collections.abc import Iterable

from metaxy.models.keys import FeatureKey
from metaxy.stores.base import FeatureLike, MetadataStore


def copy_metadata(
    source: MetadataStore,
    target: MetadataStore,
    features: Iterable[FeatureLike] | None = None,
    *,
    history: bool = False,
) -> dict[FeatureKey, int]:
    """Append to ``target`` the rows of ``source`` it does not hold yet; returns rows appended per feature.

    The same operation as ``target.copy_metadata(source, ...)`` (which wrappers such as the cache
    observe), written source first. Both stores must be open; ``target`` writable.

    Raises:
        StoreError: ``source`` and ``target`` are one store (the same object or the same location).

    Example:
        >>> import metaxy as mx
        >>> from metaxy.ops import copy_metadata
        >>> with mx.InMemoryMetadataStore() as dev, mx.InMemoryMetadataStore() as prod:
        ...     copy_metadata(dev, prod)
        {}
    """
    return target.copy_metadata(source, features, history=history)
