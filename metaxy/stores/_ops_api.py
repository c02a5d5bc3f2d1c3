"""The named API that the operations layer (:mod:`metaxy.ops`: migrate, snapshots, impact) calls
instead of private store methods.

:class:`StoreOperationsAPI` is mixed into :class:`~metaxy.stores.base.MetadataStore`; each method is
a checked door onto one store primitive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import polars as pl

from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._read import ReadRequest
from metaxy.stores._resolve import expected_samples

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


class StoreOperationsAPI:
    """Reads, appends and system tables for :mod:`metaxy.ops`, each checking the store is open (or writable)."""

    if TYPE_CHECKING:  # provided by MetadataStore

        def require_open(self) -> None: ...
        def require_writable(self, action: str) -> None: ...
        def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None: ...
        def _scan(self, key: FeatureKey) -> pl.LazyFrame | None: ...
        def _append(self, key: FeatureKey, df: pl.DataFrame) -> None: ...
        def _append_registered(self, key: FeatureKey, frame: pl.DataFrame) -> None: ...
        def _prepare_write(
            self, plan: FeaturePlan, df: pl.DataFrame, graph: FeatureGraph
        ) -> pl.DataFrame: ...

    def resolve_feature(self, feature: FeatureLike) -> tuple[FeatureKey, FeatureGraph]:
        """The key of ``feature`` and the graph defining it (a class's own graph, else the active one)."""
        return resolve_feature(feature)

    def read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        """Stored rows of this store (never its fallbacks) as ``request`` describes; ``None``: none ever."""
        self.require_open()
        return self._read_rows(request)

    def expected_samples(self, plan: FeaturePlan, graph: FeatureGraph) -> pl.LazyFrame:
        """The samples ``plan``'s upstream expects (read through the fallback chain), with provenance."""
        self.require_open()
        return expected_samples(cast("MetadataStore", self), plan, graph)

    def append_rows(self, plan: FeaturePlan, frame: pl.DataFrame, graph: FeatureGraph) -> None:
        """Append rows that carry their own versions (re-stamped by a migration, say).

        The write checks run and missing system columns are filled as in
        :meth:`~metaxy.stores.base.MetadataStore.write_metadata`; ``metaxy_updated_at`` is always this
        write's time. The catalog, if any, records the write.
        """
        self.require_writable("write metadata")
        self._append_registered(plan.key, self._prepare_write(plan, frame, graph))

    def read_system_table(self, key: FeatureKey) -> pl.LazyFrame | None:
        """Every row of a system table (``metaxy-system/...``: snapshots, ...); ``None`` when empty."""
        self.require_open()
        return self._scan(key)

    def append_system_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """Append rows to a system table as they are (no feature checks, no system columns added)."""
        self.require_writable(f"write the system table {key.to_string()!r}")
        self._append(key, frame)
