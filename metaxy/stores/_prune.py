"""Retention: which stored rows of a feature are superseded, and removing them (``store.prune``).

A row is **kept** when it is the latest row of its sample (any feature version: what
``read_metadata(all_versions=True)`` returns, tombstones included) or the latest row of its sample
at one of the *kept* feature versions. The kept versions are the feature's current version (what
``read_metadata`` and every increment read) plus, with ``keep_versions=N``, the ``N - 1`` other
versions written most recently. ``keep="latest"`` is ``keep_versions=1``. With ``older_than``, only
rows last written before ``now - older_than`` are removed. Every other row is superseded and removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from metaxy.constants import CREATED_AT, FEATURE_VERSION, PROVENANCE, UPDATED_AT
from metaxy.exceptions import RetentionError
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._delete import _stored_versions
from metaxy.stores._failures import errors_key, not_cleared, read_errors, with_stored_at
from metaxy.stores.schema_rule import TIMESTAMP
from metaxy.versioning.lineage import versioning_keys

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

Keep = Literal["latest"]


@dataclass(frozen=True)
class PruneReport:
    """What ``prune`` removed (or, with ``dry_run``, would remove) from one feature in one store.

    Attributes:
        feature: the pruned feature.
        dry_run: nothing was removed.
        rows_before: stored rows before (history and tombstones included).
        pruned: rows removed (or that would be).
        kept_versions: feature versions whose latest row per sample was kept, the current one first.
        by_version: rows removed per feature version.
        errors_pruned: recorded failed attempts removed (or that would be) from the feature's errors
            table: those cleared by a later success, superseded by an attempt at a newer input, or of
            a feature version not kept.
        reclaimed: the backend's space-reclaiming step ran (Delta optimize + vacuum, DuckDB
            checkpoint, ClickHouse ``OPTIMIZE``).
    """

    feature: FeatureKey
    dry_run: bool
    rows_before: int
    pruned: int
    kept_versions: tuple[str, ...]
    by_version: dict[str, int] = field(default_factory=dict)
    reclaimed: bool = False
    errors_pruned: int = 0

    @property
    def rows_after(self) -> int:
        """Stored rows left (or that would be left)."""
        return self.rows_before - self.pruned

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "dry_run": self.dry_run,
            "rows_before": self.rows_before,
            "pruned": self.pruned,
            "rows_after": self.rows_after,
            "kept_versions": list(self.kept_versions),
            "by_version": dict(self.by_version),
            "errors_pruned": self.errors_pruned,
            "reclaimed": self.reclaimed,
        }


@dataclass(frozen=True)
class RetentionPolicy:
    """The checked options of one ``prune`` call."""

    keep_versions: int
    older_than: timedelta | None

    @classmethod
    def of(
        cls, keep: Keep | None, keep_versions: int | None, older_than: timedelta | None, *, where: str
    ) -> RetentionPolicy:
        """The policy ``prune(keep=..., keep_versions=..., older_than=...)`` asks for.

        Raises:
            RetentionError: ``keep`` and ``keep_versions`` together, an unknown ``keep``, a count
                below 1, a negative ``older_than``.
        """
        if keep is not None and keep != "latest":
            raise RetentionError(
                f"{where}: prune(keep={keep!r}) is not a retention policy.",
                hint='Use keep="latest", keep_versions=N or older_than=timedelta(...).',
            )
        if keep is not None and keep_versions is not None:
            raise RetentionError(
                f"{where}: prune() got keep={keep!r} and keep_versions={keep_versions!r}.",
                hint='keep="latest" is keep_versions=1: pass one of them.',
            )
        if keep_versions is not None and (
            isinstance(keep_versions, bool) or not isinstance(keep_versions, int) or keep_versions < 1
        ):
            raise RetentionError(
                f"{where}: prune(keep_versions={keep_versions!r}) must be a whole number >= 1.",
                hint="keep_versions counts feature versions, the current one included.",
            )
        if older_than is not None and (not isinstance(older_than, timedelta) or older_than < timedelta(0)):
            raise RetentionError(
                f"{where}: prune(older_than={older_than!r}) must be a timedelta >= 0.",
                hint="For example older_than=timedelta(days=30).",
            )
        return cls(keep_versions or 1, older_than)


def prune_rows(
    store: MetadataStore, plan: FeaturePlan, policy: RetentionPolicy, *, dry_run: bool
) -> PruneReport:
    """Remove ``plan``'s superseded rows and recorded failed attempts from ``store`` (never its
    fallbacks) as ``policy`` says."""
    cutoff = None if policy.older_than is None else datetime.now(UTC) - policy.older_than
    report = _prune_feature_rows(store, plan, policy, cutoff, dry_run=dry_run)
    errors = superseded_errors(store, plan, report.kept_versions, cutoff)
    if errors.height == 0 or dry_run:
        return replace(report, errors_pruned=errors.height)
    table = errors_key(plan.key)
    before = store._count(table)
    store._delete_keyed(table, errors)
    reclaimed = store._reclaim_space(table) or report.reclaimed
    return replace(report, errors_pruned=before - store._count(table), reclaimed=reclaimed)


def _prune_feature_rows(
    store: MetadataStore,
    plan: FeaturePlan,
    policy: RetentionPolicy,
    cutoff: datetime | None,
    *,
    dry_run: bool,
) -> PruneReport:
    key, ids = plan.key, plan.spec.id_columns
    history = store._scan(key)
    if history is None:
        return PruneReport(key, dry_run, 0, 0, (plan.feature_version,))
    columns = [*ids, FEATURE_VERSION, UPDATED_AT]
    rows = history.select(columns).collect()
    kept_versions = _kept_versions(rows, plan.feature_version, policy.keep_versions)
    removed = superseded(rows, ids, kept_versions, cutoff)
    by_version = _count_by_version(rows, removed, columns)
    if dry_run or removed.height == 0:
        pruned = sum(by_version.values())
        return PruneReport(key, dry_run, rows.height, pruned, kept_versions, by_version)
    before = rows.height
    versions = _stored_versions(store, key) if store.catalog is not None else set()
    store._delete_keyed(key, removed)
    after = store._count(key)
    if store.catalog is not None:
        gone = versions - _stored_versions(store, key)
        store.catalog.forget_materialization(key, feature_versions=gone, store=store.name)
    reclaimed = store._reclaim_space(key)
    return PruneReport(key, False, before, before - after, kept_versions, by_version, reclaimed=reclaimed)


def superseded(
    rows: pl.DataFrame, ids: Sequence[str], kept_versions: Sequence[str], cutoff: datetime | None
) -> pl.DataFrame:
    """The distinct (ids, feature version, updated_at) keys of the rows to remove.

    ``rows`` holds those columns for every stored row. A key shared by a kept row is never returned
    (two rows written at the same instant for one sample are kept or removed together).
    """
    id_list = list(ids)
    newest = pl.col(UPDATED_AT) == pl.col(UPDATED_AT).max().over(id_list)
    newest_of_version = pl.col(UPDATED_AT) == pl.col(UPDATED_AT).max().over([*id_list, FEATURE_VERSION])
    kept_version = pl.col(FEATURE_VERSION).is_in(list(kept_versions))
    keep = newest | (newest_of_version & kept_version)
    if cutoff is not None:
        keep = keep | (pl.col(UPDATED_AT) >= cutoff)
    return _removable(rows.lazy(), keep, [*id_list, FEATURE_VERSION, UPDATED_AT]).collect()


def superseded_errors(
    store: MetadataStore, plan: FeaturePlan, kept_versions: Sequence[str], cutoff: datetime | None
) -> pl.DataFrame:
    """Keys (sample keys, provenance, feature version, time) of ``plan``'s recorded failed attempts
    that no increment reads any more.

    An attempt is superseded when a success was stored after the last attempt at its provenance
    (cleared), when the sample was attempted later at another provenance (its input moved on), or when
    its feature version is not kept. With ``cutoff``, only attempts recorded before it.
    """
    errors = read_errors(store, plan.key)
    if errors is None:
        return pl.DataFrame()
    keys = versioning_keys(plan)
    columns = [*keys, PROVENANCE, FEATURE_VERSION, CREATED_AT]
    created = pl.col(CREATED_AT).cast(TIMESTAMP)
    last = "__mx_last_attempt"
    attempts = errors.select(columns).with_columns(created.max().over([*keys, PROVENANCE]).alias(last))
    moved_on = pl.col(last) < created.max().over(keys)
    drop = ~not_cleared(last) | moved_on | ~pl.col(FEATURE_VERSION).is_in(list(kept_versions))
    if cutoff is not None:
        drop = drop & (created < cutoff)
    return _removable(with_stored_at(store, plan, attempts, keys), ~drop.fill_null(False), columns).collect()


def _removable(rows: pl.LazyFrame, keep: pl.Expr, key_columns: list[str]) -> pl.LazyFrame:
    """The distinct ``key_columns`` of the rows ``keep`` is false for, less any key a kept row shares
    (rows with the same key are kept or removed together)."""
    marked = rows.with_columns(keep.alias("__mx_keep"))
    kept = marked.filter(pl.col("__mx_keep")).select(key_columns).unique()
    dropped = marked.filter(~pl.col("__mx_keep")).select(key_columns).unique()
    return dropped.join(kept, on=key_columns, how="anti", nulls_equal=True)


def _kept_versions(rows: pl.DataFrame, current: str, count: int) -> tuple[str, ...]:
    """The current version, then the ``count - 1`` other versions with the most recent writes."""
    others = (
        rows.filter(pl.col(FEATURE_VERSION) != current)
        .group_by(FEATURE_VERSION)
        .agg(pl.col(UPDATED_AT).max())
        .sort([UPDATED_AT, FEATURE_VERSION], descending=True)
        .get_column(FEATURE_VERSION)
        .to_list()
    )
    return (current, *others[: count - 1])


def _count_by_version(rows: pl.DataFrame, removed: pl.DataFrame, columns: list[str]) -> dict[str, int]:
    if removed.height == 0:
        return {}
    hit = rows.join(removed, on=columns, how="semi", nulls_equal=True)
    counts = hit.group_by(FEATURE_VERSION).len().sort(FEATURE_VERSION)
    return dict(zip(counts[FEATURE_VERSION].to_list(), counts["len"].to_list(), strict=True))
