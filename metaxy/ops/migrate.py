"""Migration without recompute: re-stamp stored rows after a refactor that did not change outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from metaxy.constants import (
    DATA_VERSION_BY_FIELD,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROJECT_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
)
from metaxy.exceptions import MigrationError, SnapshotNotFoundError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey, FieldKey
from metaxy.models.plan import FeaturePlan
from metaxy.models.spec import FeatureSpec
from metaxy.ops.snapshots import load_graph_snapshot
from metaxy.stores.base import FeatureLike, MetadataStore, ReadRequest
from metaxy.stores.memory import InMemoryMetadataStore
from metaxy.versioning.lineage import versioning_keys

_NEW_PROVENANCE = "__mx_new_provenance"


@dataclass(frozen=True)
class FeatureMigration:
    """What a migration did (or would do) to one feature."""

    feature: FeatureKey
    to_version: str
    from_versions: tuple[str, ...]
    migrated: int
    skipped: int  # rows left alone: no upstream any more, or their provenance really changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "to_version": self.to_version,
            "from_versions": list(self.from_versions),
            "migrated": self.migrated,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class MigrationReport:
    """The outcome of :func:`migrate_data_versions`, the migrated feature first, then its downstream."""

    feature: FeatureKey
    dry_run: bool
    features: tuple[FeatureMigration, ...]

    @property
    def migrated(self) -> int:
        """Rows re-stamped in total."""
        return sum(f.migrated for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "dry_run": self.dry_run,
            "migrated": self.migrated,
            "features": [f.to_dict() for f in self.features],
        }


def migrate_data_versions(
    store: MetadataStore,
    feature: FeatureLike,
    *,
    new_code_version: str | int | Mapping[str, str | int] | None = None,
    dry_run: bool = False,
) -> MigrationReport:
    """Re-stamp the latest stored rows of ``feature`` and its downstream to the current definitions.

    Use it after bumping a field's ``code_version`` for a refactor that does *not* change outputs.
    Rows of ``feature`` get the new feature version and freshly computed provenance but keep their
    ``metaxy_data_version_by_field`` (the outputs did not change), so downstream provenance is
    unchanged; downstream rows whose stored provenance still matches are re-stamped to their new
    feature version, the others are left stale. New rows are appended; history keeps the old ones.

    Args:
        new_code_version: the code version you bumped to (a string: some field of ``feature`` must
            have it; or ``{field: version}``: each listed field must have it). Guards against migrating
            with outdated definitions loaded.
        dry_run: compute the report and write nothing.

    Raises:
        MigrationError: ``new_code_version`` does not match the current definition.
    """
    if dry_run:
        store.require_open()
    else:
        store.require_writable("migrate data versions")
    key, graph = store.resolve_feature(feature)
    _check_code_versions(graph.spec(key), new_code_version)
    # a dry run writes into an overlay whose fallback is the store, so downstream steps still see
    # their upstream re-stamped
    sink = store if not dry_run else _overlay(store)
    with sink:
        steps = [_migrate_one(store, sink, graph, k, own=k == key) for k in [key, *graph.downstream_of(key)]]
    return MigrationReport(key, dry_run, tuple(steps))


def _overlay(store: MetadataStore) -> MetadataStore:
    settings = store.hash_settings
    return InMemoryMetadataStore(
        fallback_stores=[store],
        hash_algorithm=settings.algorithm,
        hash_truncation_length=settings.truncation,
        name=f"{store.name} (dry run)",
    )


def _check_code_versions(spec: FeatureSpec, wanted: str | int | Mapping[str, str | int] | None) -> None:
    if wanted is None:
        return
    current = {f.key.to_string(): f.code_version for f in spec.fields}
    shown = ", ".join(f"{k}={v!r}" for k, v in current.items())
    where = f"Feature {spec.key.to_string()!r}"
    if not isinstance(wanted, Mapping):
        if str(wanted) not in current.values():
            raise MigrationError(
                f"{where} has no field at code_version {str(wanted)!r} (current: {shown}).",
                hint="Bump the code_version in the definition first, and import the updated code.",
            )
        return
    for field, version in wanted.items():
        name = FieldKey.coerce(field).to_string()
        if name not in current:
            raise MigrationError(
                f"{where} has no field {name!r} (fields: {shown}).", hint="Check the field key."
            )
        if current[name] != str(version):
            raise MigrationError(
                f"{where}, field {name!r} is at code_version {current[name]!r}, not {str(version)!r}.",
                hint="Bump the code_version in the definition first, and import the updated code.",
            )


def _migrate_one(
    store: MetadataStore, sink: MetadataStore, graph: FeatureGraph, key: FeatureKey, *, own: bool
) -> FeatureMigration:
    plan = graph.plan(key)
    rows = store.read_rows(ReadRequest(key, tuple(plan.spec.id_columns)))
    old = None if rows is None else rows.filter(pl.col(FEATURE_VERSION) != plan.feature_version).collect()
    if old is None or old.height == 0:
        return FeatureMigration(key, plan.feature_version, (), 0, 0)
    versions = tuple(sorted(set(old[FEATURE_VERSION].to_list())))
    if own:
        _check_same_fields(plan, old)
    if plan.is_root:
        kept = old  # root provenance comes from the caller and has no code version in it
    else:
        keys = versioning_keys(plan)
        expected = sink.expected_samples(plan, graph).select(*keys, PROVENANCE_BY_FIELD, PROVENANCE).collect()
        if own:  # new provenance (new code version), old data versions
            current = _current_under_past_definition(store, sink, graph, key, old)
            kept = current.drop(PROVENANCE_BY_FIELD, PROVENANCE).join(expected, on=keys, how="inner")
        else:  # downstream: only rows whose provenance is still what the new definition computes
            kept = _same_provenance(old, expected, keys)
    if kept.height:
        frame = kept.drop(FEATURE_VERSION, PROJECT_VERSION, MATERIALIZATION_ID, UPDATED_AT)
        sink.append_rows(plan, frame, graph)
    return FeatureMigration(key, plan.feature_version, versions, kept.height, old.height - kept.height)


def _check_same_fields(plan: FeaturePlan, rows: pl.DataFrame) -> None:
    dtype = rows.schema[DATA_VERSION_BY_FIELD]
    stored = sorted(f.name for f in dtype.fields) if isinstance(dtype, pl.Struct) else []
    current = sorted(f.key.to_struct_name() for f in plan.fields)
    if stored != current:
        raise MigrationError(
            f"Feature {plan.key.to_string()!r}: the stored rows have fields {stored}, the definition has "
            f"{current}. Adding or removing fields changes the outputs, so there is nothing to migrate.",
            hint="Recompute the feature instead (resolve_update, then write the new samples).",
        )


def _same_provenance(rows: pl.DataFrame, expected: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    fresh = expected.select(*keys, pl.col(PROVENANCE).alias(_NEW_PROVENANCE))
    joined = rows.join(fresh, on=keys, how="inner")
    return joined.filter(pl.col(PROVENANCE) == pl.col(_NEW_PROVENANCE)).drop(_NEW_PROVENANCE)


def _current_under_past_definition(
    store: MetadataStore, sink: MetadataStore, graph: FeatureGraph, key: FeatureKey, rows: pl.DataFrame
) -> pl.DataFrame:
    """Rows that were up to date under the definition that wrote them (stale ones must stay stale).

    Checkable only when that definition was pushed as a graph snapshot (its id is the rows'
    project version); rows written by a definition that was never pushed are trusted.
    """
    kept = []
    for (project,), group in rows.group_by(PROJECT_VERSION):
        try:
            past = load_graph_snapshot(store, str(project))
        except SnapshotNotFoundError:
            kept.append(group)
            continue
        plan = past.plan(key) if key in past else None
        if plan is None or plan.is_root or set(group[FEATURE_VERSION]) != {plan.feature_version}:
            kept.append(group)
            continue
        expected = sink.expected_samples(plan, graph).select(*versioning_keys(plan), PROVENANCE).collect()
        kept.append(_same_provenance(group, expected, versioning_keys(plan)))
    return pl.concat(kept, how="vertical") if kept else rows.clear()
