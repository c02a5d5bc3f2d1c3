"""``InMemoryMetadataStore``: metadata in Python memory; the shipped test double and the reference store."""

from __future__ import annotations

from typing import Any

import polars as pl

from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore


class InMemoryMetadataStore(MetadataStore):
    """Keeps every appended frame in a dict. Data lives as long as the object (across open/close).

    Example:
        >>> import metaxy as mx
        >>> with mx.InMemoryMetadataStore() as store:
        ...     store.list_features()
        []
    """

    kind = "memory"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tables: dict[FeatureKey, list[pl.DataFrame]] = {}

    def _open_backend(self) -> None:
        pass

    def _close_backend(self) -> None:
        pass

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        with self._lock:
            self._tables.setdefault(key, []).append(df)

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        chunks = self._tables.get(key)
        if not chunks:
            return None
        if len(chunks) == 1:
            return chunks[0].lazy()
        return pl.concat([c.lazy() for c in chunks], how="diagonal_relaxed")

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        with self._lock:
            if predicate is None:
                self._tables.pop(key, None)
                return
            lf = self._scan(key)
            if lf is None:
                return
            kept = lf.filter(~predicate.fill_null(False)).collect()
            self._tables[key] = [kept] if kept.height else []

    def _list_keys(self) -> list[FeatureKey]:
        return [key for key, chunks in self._tables.items() if chunks]
