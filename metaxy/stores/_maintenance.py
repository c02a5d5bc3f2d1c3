"""Keeping a store for years: retention (``prune``) and schema evolution (``migrate_schema``).

:class:`StoreMaintenance` is mixed into :class:`~metaxy.stores.base.MetadataStore`; the work lives
in :mod:`metaxy.stores._prune` and :mod:`metaxy.stores._schema_migration`, and backends provide three
small hooks: ``_delete_keyed``, ``_replace_rows`` and ``_reclaim_space``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl

from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.keys import FeatureKey
from metaxy.stores._logging import OperationLog, logged
from metaxy.stores._prune import Keep, PruneReport, RetentionPolicy, prune_rows
from metaxy.stores._schema_migration import (
    SchemaMigration,
    SchemaMigrationReport,
    migrate_rows,
    read_migration_log,
)

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


class StoreMaintenance:
    """``prune`` and ``migrate_schema``; each acts on this store only, never on its fallbacks."""

    if TYPE_CHECKING:  # provided by MetadataStore
        _operation_log: OperationLog

        def require_open(self) -> None: ...
        def require_writable(self, action: str) -> None: ...
        def _where(self, key: FeatureKey) -> str: ...

    @logged("prune")
    def prune(
        self,
        feature: FeatureLike,
        *,
        keep: Keep | None = None,
        keep_versions: int | None = None,
        older_than: timedelta | None = None,
        dry_run: bool = False,
    ) -> PruneReport:
        """Hard-remove superseded rows of ``feature``; returns what was (or would be) removed.

        Never removes a sample's latest row (any version, tombstones included) nor the latest row per
        sample of the current feature version (what ``read_metadata`` and every increment read).
        ``keep="latest"`` (the default) keeps nothing else; ``keep_versions=N`` also keeps the latest
        row per sample of the ``N - 1`` other feature versions written most recently; ``older_than``
        removes only rows last written before ``now - older_than``. Afterwards the backend's
        space-reclaiming step runs (Delta optimize + vacuum, DuckDB checkpoint, ClickHouse
        ``OPTIMIZE``). The feature's recorded failed attempts that no increment reads any more go too
        (``PruneReport.errors_pruned``; see docs/failures.md). See docs/migrations.md, "Retention".

        Raises:
            RetentionError: contradictory or out-of-range options.
        """
        if dry_run:
            self.require_open()
        else:
            self.require_writable("prune metadata")
        key, graph = resolve_feature(feature)
        policy = RetentionPolicy.of(keep, keep_versions, older_than, where=self._where(key))
        return prune_rows(self._as_store(), graph.plan(key), policy, dry_run=dry_run)

    @logged("migrate_schema")
    def migrate_schema(
        self,
        feature: FeatureLike,
        migration: SchemaMigration,
        *,
        dry_run: bool = False,
        applied_by: str | None = None,
    ) -> SchemaMigrationReport:
        """Add, rename, cast or drop user columns of ``feature``'s stored rows (history included).

        System columns and versions do not change. The migration is recorded in the store's
        migration log (:meth:`schema_migrations`) with ``applied_by`` (default: the OS user).
        ``dry_run=True`` checks everything (casts included) and reports; nothing is written.
        See docs/migrations.md, "Schema evolution".

        Raises:
            SchemaMigrationError: an unknown column, a lossy cast, a rename onto an existing column,
                a change to an id or system column.
            FeatureNotFoundError: nothing of ``feature`` is stored here.
        """
        if dry_run:
            self.require_open()
        else:
            self.require_writable("migrate the schema")
        key, graph = resolve_feature(feature)
        ids = graph.spec(key).id_columns
        return migrate_rows(self._as_store(), key, ids, migration, dry_run=dry_run, applied_by=applied_by)

    def schema_migrations(self, feature: FeatureLike | None = None) -> pl.DataFrame:
        """The schema migrations applied to this store, oldest first (``feature``'s only, if given)."""
        key = None if feature is None else resolve_feature(feature)[0]
        return read_migration_log(self._as_store(), key)

    def _as_store(self) -> MetadataStore:
        from metaxy.stores.base import MetadataStore

        assert isinstance(self, MetadataStore)
        return self
