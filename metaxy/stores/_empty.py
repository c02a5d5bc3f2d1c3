"""Empty materializations: a write of zero rows records that the feature was materialized (with no
sample) at its feature version, so downstream features resolve to an empty increment.

The record is a row of the system table ``metaxy_system/empty_materializations`` (feature key,
feature version, time), written through the same ``_append``/``_scan`` primitives as any table, so
every store and every fallback chain keeps it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from metaxy.constants import DATA_VERSION_BY_FIELD, PROVENANCE_BY_FIELD, SYSTEM_NAMESPACE
from metaxy.models.keys import FeatureKey
from metaxy.models.spec import FeatureSpec
from metaxy.stores.schema_rule import SYSTEM_TYPES, TIMESTAMP

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

EMPTY_KEY = FeatureKey([SYSTEM_NAMESPACE, "empty_materializations"])
_SCHEMA: dict[str, pl.DataType] = {
    "feature": pl.String(),
    "feature_version": pl.String(),
    "materialized_at": TIMESTAMP,
}


def mark_empty(store: MetadataStore, key: FeatureKey, feature_version: str) -> None:
    """Record that ``key`` was materialized with zero rows at ``feature_version`` (once)."""
    if is_marked_empty(store, key, feature_version):
        return
    row = {
        "feature": [key.to_string()],
        "feature_version": [feature_version],
        "materialized_at": [datetime.now(UTC)],
    }
    store._append(EMPTY_KEY, pl.DataFrame(row, schema=_SCHEMA))


def is_marked_empty(store: MetadataStore, key: FeatureKey, feature_version: str | None) -> bool:
    """Whether ``key`` was materialized empty at ``feature_version`` (any version when None)."""
    lf = store._scan(EMPTY_KEY)
    if lf is None:
        return False
    match = pl.col("feature") == key.to_string()
    if feature_version is not None:
        match = match & (pl.col("feature_version") == feature_version)
    return bool(lf.filter(match).select(pl.len()).collect().item() > 0)


def forget_empty(store: MetadataStore, key: FeatureKey) -> None:
    """Drop ``key``'s empty-materialization records (after every stored row of it was deleted)."""
    if store._scan(EMPTY_KEY) is not None:
        store._delete_rows(EMPTY_KEY, pl.col("feature") == key.to_string())


def conform_empty(rows: pl.LazyFrame | None, spec: FeatureSpec) -> pl.LazyFrame:
    """Zero rows read for an empty materialization, with the version structs typed by ``spec``.

    Some backends cannot tell a struct's fields from an empty table; with no row, nothing is lost
    by restating them.
    """
    if rows is None:
        return empty_rows(spec)
    struct = _by_field_struct(spec)
    by_field = [c for c in rows.collect_schema() if c in (PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD)]
    return rows.with_columns(pl.lit(None, struct).alias(c) for c in by_field)


def empty_rows(spec: FeatureSpec) -> pl.LazyFrame:
    """Zero rows shaped like stored rows of ``spec``'s feature, for a store that kept no table of it."""
    schema: dict[str, pl.DataType] = dict.fromkeys(spec.id_columns, pl.String())
    schema |= dict.fromkeys((PROVENANCE_BY_FIELD, DATA_VERSION_BY_FIELD), _by_field_struct(spec))
    return pl.LazyFrame(schema=schema | SYSTEM_TYPES)


def empty_columns(spec: FeatureSpec) -> list[str]:
    """The columns of an empty materialization that left no table: ids, version structs, system columns."""
    return empty_rows(spec).collect_schema().names()


def _by_field_struct(spec: FeatureSpec) -> pl.Struct:
    """The type of ``spec``'s ``*_by_field`` columns: one string per field."""
    return pl.Struct({f.key.to_struct_name(): pl.String for f in spec.fields})
