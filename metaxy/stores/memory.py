"""``InMemoryMetadataStore``: metadata in Python memory; the shipped test double and the reference store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Self, Unpack

import polars as pl

from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore, ReadRequest, StoreOptions
from metaxy.stores.schema_rule import cast_expr


class InMemoryMetadataStore(MetadataStore):
    """Keeps every appended frame in a dict. Data lives as long as the object (across open/close).

    Example:
        >>> import metaxy as mx
        >>> with mx.InMemoryMetadataStore() as store:
        ...     store.list_features()
        []
    """

    kind = "memory"

    def __init__(self, **kwargs: Unpack[StoreOptions]) -> None:
        super().__init__(**kwargs)
        self._tables: dict[FeatureKey, list[pl.DataFrame]] = {}
        # key -> every stored column's type (the append-schema rule reads it on each write)
        self._schemas: dict[FeatureKey, dict[str, pl.DataType]] = {}
        # key -> (the single stored chunk, id columns, whether those ids are unique in it)
        self._unique_ids: dict[FeatureKey, tuple[pl.DataFrame, tuple[str, ...], bool]] = {}

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new in-memory store (``folder`` is not used: nothing is written to disk)."""
        return cls(**options)

    def _open_backend(self) -> None:
        pass

    def _close_backend(self) -> None:
        pass

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        with self._lock:
            chunks = self._tables.setdefault(key, [])
            known = self._schemas.setdefault(key, {})
            if any(known.get(name, dtype) != dtype for name, dtype in df.schema.items()):
                # the write widened a column (append-schema rule): widen the stored rows too
                self._tables[key] = [_widened(chunk, df.schema) for chunk in chunks]
            known.update(df.schema)
            self._tables[key].append(df)

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        """Kept beside the chunks: no need to look at every chunk on each write."""
        known = self._schemas.get(key)
        return pl.Schema(known) if known else None

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        chunks = self._tables.get(key)
        if not chunks:
            return None
        if len(chunks) == 1:
            return chunks[0].lazy()
        return pl.concat([c.lazy() for c in chunks], how="diagonal_relaxed")

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        """As the base class, but a table that is one chunk with unique ids needs no latest-row pick."""
        if request.latest and request.ids and self._ids_unique(request.key, request.ids):
            request = replace(request, latest=False)
        return super()._read_rows(request)

    def _ids_unique(self, key: FeatureKey, ids: tuple[str, ...]) -> bool:
        """Whether ``key`` is stored as one chunk in which ``ids`` never repeat (cached per chunk).

        Counting distinct ids costs a fraction of sorting the history and picking the last row per id.
        """
        chunks = self._tables.get(key)
        if not chunks or len(chunks) != 1:
            return False
        cached = self._unique_ids.get(key)
        if cached is not None and cached[0] is chunks[0] and cached[1] == ids:
            return cached[2]
        ids_expr = pl.col(ids[0]) if len(ids) == 1 else pl.struct(ids)
        unique = chunks[0].select(ids_expr.n_unique()).item() == chunks[0].height
        self._unique_ids[key] = (chunks[0], ids, unique)
        return bool(unique)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        with self._lock:
            if predicate is None:
                self._tables.pop(key, None)
                self._schemas.pop(key, None)
                return
            lf = self._scan(key)
            if lf is None:
                return
            kept = lf.filter(~predicate.fill_null(False)).collect()
            self._tables[key] = [kept] if kept.height else []

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        with self._lock:
            self._tables[key] = [frame] if frame.height else []
            self._schemas[key] = dict(frame.schema)

    def _list_keys(self) -> list[FeatureKey]:
        return [key for key, chunks in self._tables.items() if chunks]


def _widened(chunk: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    casts = [
        cast_expr(name, pl.col(name), dtype, schema[name])
        for name, dtype in chunk.schema.items()
        if name in schema and schema[name] != dtype
    ]
    return chunk.with_columns(casts) if casts else chunk
