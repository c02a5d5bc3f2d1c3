"""What one registration stores: one record per (write, feature version, field)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from metaxy.constants import DATA_VERSION_BY_FIELD, FEATURE_VERSION, MATERIALIZATION_ID
from metaxy.exceptions import CatalogError
from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey

#: columns of ``get_materialization_info`` frames, in order
INFO_SCHEMA: dict[str, pl.DataType] = {
    "field_key": pl.String(),
    "data_version": pl.String(),
    "sample_count": pl.Int64(),
    "materialized_at": pl.Datetime("us", "UTC"),
    "feature_version": pl.String(),
    "store": pl.String(),
    "materialization_id": pl.String(),
}


@dataclass(frozen=True)
class MaterializationRecord:
    """One field of one feature version written once.

    ``data_version`` is the field's static field version (docs/concepts.md); it is ``None`` when the
    written feature version is not the active graph's definition (e.g. copied old history).
    """

    store: str
    feature_key: str
    feature_version: str
    field_key: str
    data_version: str | None
    sample_count: int
    materialized_at: datetime
    materialization_id: str

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.store,
            self.feature_key,
            self.feature_version,
            self.field_key,
            self.data_version,
            self.sample_count,
            self.materialized_at,
            self.materialization_id,
        )


def feature_key_of(feature: Any) -> FeatureKey:
    """A key from a feature class, a ``FeatureKey`` or its string/list form."""
    return coerce_feature_key(feature)


def records_from_frame(
    key: FeatureKey, df: pl.DataFrame, *, store: str = "", graph: FeatureGraph | None = None
) -> list[MaterializationRecord]:
    """Records for a successful write of ``df`` (with system columns) to ``key``; none for no rows."""
    if df.height == 0:
        return []
    if FEATURE_VERSION not in df.columns:
        raise CatalogError(
            f"Cannot register a write of {key.to_string()!r}: the frame has no {FEATURE_VERSION} column.",
            hint="Register the frame the store wrote (with system columns), not the user input.",
        )
    graph = graph or FeatureGraph.get_active()
    now = datetime.now(UTC)
    counts = df.group_by(FEATURE_VERSION).agg(
        pl.len().alias("n"),
        (pl.col(MATERIALIZATION_ID).first() if MATERIALIZATION_ID in df.columns else pl.lit(None)).alias(
            "mid"
        ),
    )
    records = []
    for version, count, mid in counts.iter_rows():
        for field, data_version in _field_versions(key, str(version), df, graph).items():
            records.append(
                MaterializationRecord(
                    store=store,
                    feature_key=key.to_string(),
                    feature_version=str(version),
                    field_key=field,
                    data_version=data_version,
                    sample_count=int(count),
                    materialized_at=now,
                    materialization_id=str(mid) if mid is not None else uuid.uuid4().hex,
                )
            )
    return records


def _field_versions(
    key: FeatureKey, feature_version: str, df: pl.DataFrame, graph: FeatureGraph
) -> dict[str, str | None]:
    """Field -> static field version of the definition that produced ``feature_version``."""
    if key in graph and graph.feature_version(key) == feature_version:
        return dict(graph.field_versions(key))
    # an older (or foreign) definition: the field names are known from the struct, not their versions
    dtype = df.schema.get(DATA_VERSION_BY_FIELD)
    names = [f.name for f in dtype.fields] if isinstance(dtype, pl.Struct) else []
    return dict.fromkeys(names or ["default"], None)


def info_frame(records: list[MaterializationRecord]) -> pl.DataFrame:
    """The ``get_materialization_info`` frame for ``records``, oldest first."""
    rows = {
        "field_key": [r.field_key for r in records],
        "data_version": [r.data_version for r in records],
        "sample_count": [r.sample_count for r in records],
        "materialized_at": [r.materialized_at for r in records],
        "feature_version": [r.feature_version for r in records],
        "store": [r.store for r in records],
        "materialization_id": [r.materialization_id for r in records],
    }
    return pl.DataFrame(rows, schema=INFO_SCHEMA).sort("materialized_at", "field_key", maintain_order=True)
